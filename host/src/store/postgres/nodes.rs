//! The nodes sharing the store: their heartbeats (which keep their claims theirs), the list
//! `GET /api/nodes` shows, and the notifications that wake them.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Inner, Store, db_now};
use crate::clock::rfc3339;
use crate::store::backoff::Backoff;
use crate::store::error::StoreError;
use crate::store::records::NodeState;
use crate::store::views::NodeRecord;

/// Subscribes a connection to the channel of work notifications (`WORK_CHANNEL`).
const LISTEN: &str = "LISTEN wasmhook_work";

/// Rows of nodes gone this long are removed by any node's heartbeat.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// Tells the other nodes this node is alive and what it runs, renewing its claims; when
    /// a node's lease ran out since the last heartbeat, its work is there to take over
    /// ([`Store::catch_ups`] changes).
    pub async fn heartbeat(&self, state: &NodeState) -> Result<(), StoreError> {
        let sent = Instant::now();
        let plugins = serde_json::to_string(&state.plugins).expect("plugins serialise");
        let client = self.client().await?;
        let now: i64 = client
            .query_one(
                concat!(
                    "INSERT INTO nodes (id, name, address, started_at, heartbeat_at, lease_ms,
                                        routes_sha256, plugins)
                     VALUES ($1, $2, $3, $4, ",
                    db_now!(),
                    ", $5, $6, $7)
                     ON CONFLICT (id) DO UPDATE SET address = $3, heartbeat_at = ",
                    db_now!(),
                    ", lease_ms = $5, routes_sha256 = $6, plugins = $7
                     RETURNING heartbeat_at"
                ),
                &[
                    &self.inner.id,
                    &state.name,
                    &state.address,
                    &self.inner.started_at,
                    &state.lease_ms,
                    &state.routes_sha256,
                    &plugins,
                ],
            )
            .await?
            .get(0);
        *self.inner.renewed.lock().expect("lease renewal") = sent;
        self.inner.lease_ms.store(state.lease_ms, Ordering::Relaxed);
        // The nodes whose lease ran out since this node's last heartbeat, however briefly
        // they lived: their work is to be taken over. At the first heartbeat, every such node.
        let since = self.inner.last_beat.swap(now, Ordering::Relaxed);
        let lost: Vec<String> = client
            .query(
                "SELECT id FROM nodes WHERE stopped_at IS NULL
                   AND heartbeat_at + lease_ms < $1 AND heartbeat_at + lease_ms >= $2",
                &[&now, &since],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if !lost.is_empty() {
            tracing::warn!(nodes = ?lost, "nodes lost their lease: taking over their work");
            self.inner.catch_ups.send_modify(|n| *n += 1);
        }
        client
            .execute(
                "DELETE FROM nodes WHERE heartbeat_at < $1",
                &[&(now - FORGET_AFTER_MS)],
            )
            .await?;
        Ok(())
    }

    /// Every node that shares the store, the live ones first.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                concat!(
                    "SELECT id, name, address, started_at, heartbeat_at, routes_sha256, plugins,
                            CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
                                 WHEN heartbeat_at + lease_ms >= ",
                    db_now!(),
                    " THEN 'live' ELSE 'lost' END
                     FROM nodes ORDER BY name, started_at"
                ),
                &[],
            )
            .await?;
        let mut nodes: Vec<NodeRecord> = rows
            .iter()
            .map(|row| NodeRecord {
                id: row.get(0),
                name: row.get(1),
                address: row.get(2),
                started_at: rfc3339(row.get(3)),
                heartbeat_at: rfc3339(row.get(4)),
                routes_sha256: row.get(5),
                plugins: serde_json::from_str::<BTreeMap<String, String>>(row.get(6))
                    .unwrap_or_default(),
                state: match row.get::<_, &str>(7) {
                    "live" => "live",
                    "stopped" => "stopped",
                    _ => "lost",
                },
            })
            .collect();
        nodes.sort_by_key(|node| node.state != "live");
        Ok(nodes)
    }

    /// A clean stop: the node gives up its claims at once, rather than at the end of its
    /// lease, and wakes the others to take them.
    pub async fn leave(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let me = &self.inner.id;
        transaction
            .execute("UPDATE events SET owner = NULL WHERE owner = $1", &[me])
            .await?;
        transaction
            .execute("UPDATE messages SET owner = NULL WHERE owner = $1", &[me])
            .await?;
        transaction
            .execute(
                concat!(
                    "UPDATE nodes SET stopped_at = ",
                    db_now!(),
                    " WHERE id = $1"
                ),
                &[me],
            )
            .await?;
        super::notify(&transaction, "").await?;
        transaction.commit().await?;
        Ok(())
    }
}

/// Listens for work notifications on a connection of its own, for as long as the store is
/// in use; each one, and each reconnection (notifications may have been missed while it was
/// down), changes [`Store::catch_ups`].
pub(super) fn listen(inner: Weak<Inner>, config: tokio_postgres::Config) {
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        loop {
            match config.connect(NoTls).await {
                Ok((client, mut connection)) => {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    let listening = client.batch_execute(LISTEN);
                    // The connection is driven by polling its messages; the LISTEN completes
                    // while they are polled.
                    let mut listening = std::pin::pin!(listening);
                    let mut listened = false;
                    let mut still_used = tokio::time::interval(Duration::from_secs(5));
                    loop {
                        tokio::select! {
                            _ = still_used.tick() => if inner.strong_count() == 0 { return },
                            done = &mut listening, if !listened => {
                                listened = true;
                                if done.is_err() { break; }
                                backoff.reset();
                                let Some(inner) = inner.upgrade() else { return };
                                inner.catch_ups.send_modify(|n| *n += 1);
                            }
                            message = messages.next() => match message {
                                Some(Ok(AsyncMessage::Notification(notice))) => {
                                    let Some(inner) = inner.upgrade() else { return };
                                    match notice.payload() {
                                        "" => inner.catch_ups.send_modify(|n| *n += 1),
                                        // This node's own messages: it knows of them.
                                        node if node == inner.id => {}
                                        _ => inner.work_notices.send_modify(|n| *n += 1),
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(_)) | None => break,
                            },
                        }
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot listen for work on the shared store");
                }
            }
            if inner.strong_count() == 0 {
                return;
            }
            let pause = backoff.next_pause().min(Duration::from_secs(5));
            tokio::time::sleep(pause).await;
        }
    });
}
