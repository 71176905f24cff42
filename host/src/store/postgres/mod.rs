//! The shared store: several nodes on one PostgreSQL database.
//!
//! # Sharing the work
//! Work is claimed, never assigned: a node takes `received` events and due messages by setting
//! their `owner` to itself, in one `UPDATE` over rows picked `FOR UPDATE SKIP LOCKED`, so two
//! nodes reading at once take different rows and neither waits for the other. A claim holds
//! while its node's heartbeat is younger than the node's lease (`nodes` table, the database's
//! clock); then any node may claim the row again. That is the only hand-over: a node killed
//! mid-delivery loses its claims when its lease runs out, and whatever it had not recorded is
//! attempted again elsewhere (at least once).
//!
//! A node that could not renew its lease for half of it stops starting attempts and lets go
//! of the messages it holds in memory ([`Store::may_deliver`]), so that no message is ever
//! sent by two live nodes at once: the lease is longer than twice the longest attempt.
//!
//! # Waking other nodes
//! A node delivers the messages it commits itself, from memory, as the embedded store does;
//! the messages it could not take at once are left unclaimed, and a `NOTIFY` in the same
//! commit wakes the idle nodes (`LISTEN`, see `nodes.rs`) to claim them within milliseconds.
//! Operators' actions (retries, enabling a subscriber) notify too. A node whose lease ran out
//! wakes the others through their heartbeats.
//!
//! # Per-key order
//! A message is due only while no older pending message of its key exists, whoever holds
//! that one: one message per key is in flight across the cluster.
//!
//! # Cost per event
//! Events arriving together are committed in one transaction of a few multi-row statements
//! (`group_commit.rs`); the pipeline's commits and delivery's records do not wait for the
//! disk (`synchronous_commit = off`), as the embedded store does not sync them. The
//! statements run for every event are prepared once per connection (`prepare_cached`): each
//! later use is one round trip instead of two, and PostgreSQL plans it once.

mod group_commit;
mod migrations;
mod nodes;
mod read;

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::watch;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use crate::store::error::StoreError;
use crate::store::records::{
    Attempt, AttemptOutcome, Dedup, EventStatus, Expiry, Inserted, MessageStatus, NewEvent,
    NewMessage, NodeState, OpenCircuit, PRUNE_BATCH,
};

/// Connections a node holds at most for ingest commits, operators' actions and reads.
const POOL_SIZE: usize = 16;
/// And for the pipeline's commits and delivery's records, which no sender waits for.
const RELAXED_POOL_SIZE: usize = 8;
/// How long a request waits for a connection, or to open one, before the store is called
/// unavailable (ingest answers 503 with `Retry-After`).
const CONNECTION_WAIT: Duration = Duration::from_secs(3);
/// The channel that tells nodes there is work they may claim.
const WORK_CHANNEL: &str = "wasmhook_work";

/// The database's clock, in Unix ms: leases are compared on one clock, whatever the nodes'.
macro_rules! db_now {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}
pub(super) use db_now;

/// Whether the row of alias `$t` may be claimed by node `$me` (a parameter): unclaimed, its
/// own, or claimed by a node whose lease ran out.
macro_rules! claimable {
    ($t:literal, $me:literal) => {
        concat!(
            "(",
            $t,
            ".owner IS NULL OR ",
            $t,
            ".owner = ",
            $me,
            " OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = ",
            $t,
            ".owner AND n.stopped_at IS NULL AND n.heartbeat_at + n.lease_ms >= ",
            crate::store::postgres::db_now!(),
            "))"
        )
    };
}
pub(super) use claimable;

/// Nothing when the event was processed already (a second run of the pipeline on it).
const FINISH_EVENT: &str = "
    UPDATE events SET status = 'processed', owner = NULL
    WHERE id = $1 AND status = 'received' RETURNING seq";

/// An event's messages in one statement: a column an array.
const INSERT_MESSAGES: &str = "
    INSERT INTO messages (id, event_id, event_seq, route, subscriber, status, type, key,
                          headers, error, plugins, created_at, next_attempt_at, body,
                          body_is_event, owner)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::int8[], $13::int8[], $14::bytea[], $15::bool[],
                         $16::text[])";

/// An attempt and its message's new state in one statement: one round trip, and atomic
/// without a transaction of its own. `$9` is the retries it spent (none for a failed probe).
const RECORD_ATTEMPT: &str = "
    WITH attempt AS (
        INSERT INTO attempts (message_id, at, status, latency_ms, error, response, node)
        VALUES ($1, $2, $3, $4, $5, $6, $7))
    UPDATE messages SET status = $8, attempts = attempts + $9, error = $5, owner = NULL,
        next_attempt_at = CASE WHEN $9 = 0 THEN next_attempt_at ELSE $10 END
    WHERE id = $1";

/// Wakes the nodes listening once the transaction commits.
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// Handle to the shared store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Events to commit, group by group (see `group_commit.rs`).
    commits: group_commit::Queue,
    /// Connections whose commits do not wait for the disk (`synchronous_commit = off`), for
    /// the writes no sender waits for: a crash of the database may lose their last fraction
    /// of a second, which is then redone (an attempt made again, an event run again), as the
    /// embedded store does with the writes it does not sync.
    relaxed: Pool,
    /// This run of the node: `name-xxxxxx`.
    id: String,
    name: String,
    started_at: i64,
    /// The node's lease, in ms, as last told to the others.
    lease_ms: AtomicI64,
    /// When the last heartbeat that renewed the lease was sent.
    renewed: Mutex<Instant>,
    catch_ups: watch::Sender<u64>,
    /// Changes when another node committed messages it could not start at once.
    work_notices: watch::Sender<u64>,
    /// The database's time at this node's last heartbeat: the nodes whose lease ran out
    /// since are the ones whose work to take over.
    last_beat: AtomicI64,
}

impl Store {
    /// Connects to the database at `url`, brings its schema up to date and registers this
    /// node as `state` says. Errors never quote the URL, which may hold a password.
    pub async fn connect(url: &str, state: NodeState) -> Result<Store, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Postgres(format!("the store URL is not valid: {e}")))?;
        config
            .connect_timeout(CONNECTION_WAIT)
            .application_name("wasmhook");
        let pool = connections(config.clone(), POOL_SIZE)?;
        let mut relaxed = config.clone();
        relaxed.options("-c synchronous_commit=off");
        let relaxed = connections(relaxed, RELAXED_POOL_SIZE)?;
        {
            let mut client = pool.get().await?;
            migrations::migrate(&mut client).await?;
        }
        let id = format!("{}-{}", state.name, crate::ids::short_random());
        let store = Store {
            inner: Arc::new(Inner {
                commits: group_commit::spawn(pool.clone(), id.clone()),
                pool,
                relaxed,
                name: state.name.clone(),
                id,
                started_at: crate::clock::now_ms(),
                lease_ms: AtomicI64::new(state.lease_ms),
                renewed: Mutex::new(Instant::now()),
                catch_ups: watch::Sender::new(0),
                work_notices: watch::Sender::new(0),
                last_beat: AtomicI64::new(0),
            }),
        };
        store.heartbeat(&state).await?;
        nodes::listen(Arc::downgrade(&store.inner), config);
        Ok(store)
    }

    /// This run of the node, as its claims name it.
    pub fn node_id(&self) -> &str {
        &self.inner.id
    }

    pub fn catch_ups(&self) -> watch::Receiver<u64> {
        self.inner.catch_ups.subscribe()
    }

    /// Whether this node's lease is safely its own: renewed within half of it. Past that,
    /// the other nodes may soon take its messages, so it must not start any it holds.
    pub fn may_deliver(&self) -> bool {
        let lease = Duration::from_millis(self.inner.lease_ms.load(Ordering::Relaxed) as u64);
        self.inner.renewed.lock().expect("lease renewal").elapsed() < lease / 2
    }

    /// Changes when another node committed messages it could not start at once: due
    /// messages to look for, and nothing else.
    pub fn work_notices(&self) -> watch::Receiver<u64> {
        self.inner.work_notices.subscribe()
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.inner.pool.get().await?)
    }

    /// A connection for writes no sender waits for (see [`Inner::relaxed`]).
    async fn relaxed_client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.inner.relaxed.get().await?)
    }

    /// Commits the event with the others that come meanwhile (see `group_commit.rs`).
    pub async fn insert_event(
        &self,
        event: Arc<NewEvent>,
        dedup: Vec<Dedup>,
        status: EventStatus,
        messages: Vec<NewMessage>,
    ) -> Result<Inserted, StoreError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let insert = group_commit::Insert {
            event,
            dedup,
            status,
            messages,
            done,
        };
        self.inner
            .commits
            .try_send(insert)
            .map_err(|_| StoreError::Unavailable)?;
        outcome.await.map_err(|_| StoreError::Unavailable)?
    }

    pub async fn finish_event(
        &self,
        event_id: String,
        messages: Vec<NewMessage>,
    ) -> Result<(), StoreError> {
        let mut client = self.relaxed_client().await?;
        let transaction = client.transaction().await?;
        let received = transaction
            .query_opt(
                &transaction.prepare_cached(FINISH_EVENT).await?,
                &[&event_id],
            )
            .await?;
        if let Some(row) = received {
            self.insert_messages(&transaction, &messages, row.get(0))
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Inserts one event's messages in one statement. Those a lane of this node took before
    /// the commit are claimed by it; any other pending one is left to whichever node claims
    /// it first, and the commit wakes them.
    async fn insert_messages(
        &self,
        transaction: &deadpool_postgres::Transaction<'_>,
        messages: &[NewMessage],
        event_seq: i64,
    ) -> Result<(), StoreError> {
        let mut rows = MessageRows::default();
        for message in messages {
            rows.push(message, event_seq, self.node_id());
        }
        rows.insert(transaction, self.node_id()).await
    }

    pub async fn record_attempt(
        &self,
        message_id: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        let (status, next, spent) = match outcome {
            AttemptOutcome::Delivered => (MessageStatus::Delivered, None, 1),
            AttemptOutcome::RetryAt(at) => (MessageStatus::Pending, Some(at), 1),
            AttemptOutcome::Dead => (MessageStatus::Dead, None, 1),
            // A failed probe: the message waits as it was, its retries unspent.
            AttemptOutcome::Probed => (MessageStatus::Pending, None, 0),
        };
        let status_code = attempt.status.map(i32::from);
        let client = self.relaxed_client().await?;
        client
            .execute(
                &client.prepare_cached(RECORD_ATTEMPT).await?,
                &[
                    &message_id,
                    &attempt.at,
                    &status_code,
                    &attempt.latency_ms,
                    &attempt.error,
                    &attempt.response.as_deref(),
                    &self.inner.name,
                    &status.as_str(),
                    &spent,
                    &next,
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn retry_message(&self, message_id: String) -> Result<bool, StoreError> {
        let retried = self
            .execute_and_notify(
                "UPDATE messages SET status = 'pending', next_attempt_at = $2, owner = NULL
                 WHERE id = $1 AND status = 'dead' AND (body IS NOT NULL OR body_is_event)",
                &[&message_id, &crate::clock::now_ms()],
            )
            .await?;
        Ok(retried == 1)
    }

    pub async fn retry_dead_of(&self, subscriber: String) -> Result<usize, StoreError> {
        self.execute_and_notify(
            "UPDATE messages SET status = 'pending', next_attempt_at = $2, owner = NULL
             WHERE subscriber = $1 AND status = 'dead' AND (body IS NOT NULL OR body_is_event)",
            &[&subscriber, &crate::clock::now_ms()],
        )
        .await
    }

    /// The event is this node's to run again: the caller hands it to its pipeline.
    pub async fn mark_for_replay(&self, event_id: String) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let marked = client
            .execute(
                "UPDATE events SET status = 'received', owner = $2 WHERE id = $1",
                &[&event_id, &self.node_id()],
            )
            .await?;
        Ok(marked == 1)
    }

    pub async fn disable_subscriber(&self, name: String, reason: String) -> Result<(), StoreError> {
        self.execute_and_notify(
            "INSERT INTO disabled_subscribers (name, disabled_at, reason) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
            &[&name, &crate::clock::now_ms(), &reason],
        )
        .await
        .map(drop)
    }

    pub async fn enable_subscriber(&self, name: String) -> Result<bool, StoreError> {
        let enabled = self
            .execute_and_notify("DELETE FROM disabled_subscribers WHERE name = $1", &[&name])
            .await?;
        Ok(enabled == 1)
    }

    pub async fn open_circuit(
        &self,
        subscriber: String,
        circuit: OpenCircuit,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO circuits (subscriber, opened_at, probe_at, probe_interval_ms, probes, reason)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (subscriber) DO UPDATE SET opened_at = $2, probe_at = $3,
                     probe_interval_ms = $4, probes = $5, reason = $6",
                &[
                    &subscriber,
                    &circuit.opened_at,
                    &circuit.probe_at,
                    &circuit.probe_interval_ms,
                    &(circuit.probes as i32),
                    &circuit.reason,
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn close_circuit(&self, subscriber: String) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM circuits WHERE subscriber = $1", &[&subscriber])
            .await?;
        Ok(())
    }

    /// As the embedded store prunes (see its `prune`); the rows another node is pruning at
    /// the same moment are skipped, not waited for. Messages and attempts go with their
    /// events (`ON DELETE CASCADE`).
    pub async fn prune(&self, expiry: Expiry) -> Result<usize, StoreError> {
        let Expiry {
            settled_before,
            dead_before,
            dedup_before,
        } = expiry;
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let removed = transaction
            .execute(
                "DELETE FROM events WHERE id IN (
                     SELECT e.id FROM events e
                     WHERE e.seq < COALESCE(
                             (SELECT seq FROM events WHERE received_at >= GREATEST($1::int8, $2::int8)
                              ORDER BY seq LIMIT 1),
                             9223372036854775807)
                       AND e.received_at < GREATEST($1::int8, $2::int8)
                       AND e.status = 'processed'
                       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.event_id = e.id
                                       AND m.status IN ('pending', 'held'))
                       AND CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.event_id = e.id
                                             AND m.status = 'dead')
                                THEN e.received_at < $1 ELSE e.received_at < $2 END
                     ORDER BY e.seq LIMIT $3
                     FOR UPDATE SKIP LOCKED)",
                &[&dead_before, &settled_before, &(PRUNE_BATCH as i64)],
            )
            .await?;
        transaction
            .execute("DELETE FROM dedup WHERE received_at < $1", &[&dedup_before])
            .await?;
        transaction.commit().await?;
        Ok(removed as usize)
    }

    pub async fn release_held(
        &self,
        event_id: String,
        route: String,
        messages: Vec<NewMessage>,
    ) -> Result<bool, StoreError> {
        let mut client = self.relaxed_client().await?;
        let transaction = client.transaction().await?;
        // Two nodes releasing the same event: the second finds nothing left to delete.
        let released = transaction
            .query(
                "DELETE FROM messages WHERE event_id = $1 AND route = $2 AND status = 'held'
                 RETURNING event_seq",
                &[&event_id, &route],
            )
            .await?;
        let Some(row) = released.first() else {
            return Ok(false);
        };
        self.insert_messages(&transaction, &messages, row.get(0))
            .await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Runs a statement and, when it changed rows, tells the other nodes to look.
    async fn execute_and_notify(
        &self,
        sql: &str,
        parameters: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let changed = transaction.execute(sql, parameters).await?;
        if changed > 0 {
            notify(&transaction, "").await?;
        }
        transaction.commit().await?;
        Ok(changed as usize)
    }
}

/// The pool of connections to the database `config` names.
fn connections(config: tokio_postgres::Config, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Postgres(format!("cannot set up connections: {e}")))
}

/// Wakes the nodes listening (this one included) once `transaction` commits. The payload is
/// empty for a change every node must look at (an operator's action, a node leaving), or the
/// id of the node that committed messages it could not start: the others claim them.
async fn notify(
    transaction: &deadpool_postgres::Transaction<'_>,
    payload: &str,
) -> Result<(), StoreError> {
    transaction
        .execute(
            &transaction.prepare_cached(NOTIFY).await?,
            &[&WORK_CHANNEL, &payload],
        )
        .await?;
    Ok(())
}

/// An event's messages as the columns of one multi-row insert.
#[derive(Default)]
struct MessageRows<'m> {
    id: Vec<&'m str>,
    event_id: Vec<&'m str>,
    event_seq: Vec<i64>,
    route: Vec<&'m str>,
    subscriber: Vec<&'m str>,
    status: Vec<&'static str>,
    message_type: Vec<Option<&'m str>>,
    key: Vec<Option<&'m str>>,
    headers: Vec<String>,
    error: Vec<Option<&'m str>>,
    plugins: Vec<String>,
    created_at: Vec<i64>,
    next_attempt_at: Vec<Option<i64>>,
    body: Vec<Option<&'m [u8]>>,
    body_is_event: Vec<bool>,
    owner: Vec<Option<&'m str>>,
    unclaimed_pending: bool,
}

impl<'m> MessageRows<'m> {
    /// Inserts the rows in one statement; when some are pending and unclaimed, the commit
    /// tells the other nodes, naming `node`.
    async fn insert(
        &self,
        transaction: &deadpool_postgres::Transaction<'_>,
        node: &str,
    ) -> Result<(), StoreError> {
        if self.id.is_empty() {
            return Ok(());
        }
        transaction
            .execute(
                &transaction.prepare_cached(INSERT_MESSAGES).await?,
                &self.parameters(),
            )
            .await?;
        if self.unclaimed_pending {
            notify(transaction, node).await?;
        }
        Ok(())
    }

    fn push(&mut self, message: &'m NewMessage, event_seq: i64, node: &'m str) {
        let pending = message.status == MessageStatus::Pending;
        self.id.push(&message.id);
        self.event_id.push(&message.event_id);
        self.event_seq.push(event_seq);
        self.route.push(&message.route);
        self.subscriber.push(&message.subscriber);
        self.status.push(message.status.as_str());
        self.message_type.push(message.message_type.as_deref());
        self.key.push(message.key.as_deref());
        self.headers
            .push(serde_json::to_string(&message.headers).expect("headers serialise"));
        self.error.push(message.error.as_deref());
        self.plugins
            .push(serde_json::to_string(&message.plugins).expect("plugins serialise"));
        self.created_at.push(message.created_at);
        self.next_attempt_at
            .push(pending.then_some(message.created_at));
        let body = message.body.as_deref().filter(|_| !message.body_is_event);
        self.body.push(body);
        self.body_is_event
            .push(message.body_is_event && message.body.is_some());
        self.owner
            .push((pending && message.claimed).then_some(node));
        self.unclaimed_pending |= pending && !message.claimed;
    }

    fn parameters(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.id,
            &self.event_id,
            &self.event_seq,
            &self.route,
            &self.subscriber,
            &self.status,
            &self.message_type,
            &self.key,
            &self.headers,
            &self.error,
            &self.plugins,
            &self.created_at,
            &self.next_attempt_at,
            &self.body,
            &self.body_is_event,
            &self.owner,
        ]
    }
}
