//! Queries: the work a node claims (events to run, messages to send), what recovery must redo
//! and what the admin API shows.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Store, claimable};
use crate::clock::rfc3339;
use crate::store::error::StoreError;
use crate::store::listing::{Arg, Dialect, EventQuery, MessageQuery, Page, SubscriberQueue};
use crate::store::records::{DueMessage, DueRead, MessageStatus, NewEvent, OpenCircuit};
use crate::store::views::{AttemptRecord, EventRecord, EventSummary, MessageRecord, json_column};

const EVENT_COLUMNS: &str = "e.id, e.source, e.type, e.received_at, e.request, e.body";

/// Claims `received` events nobody runs: unclaimed, this node's, or a lost node's.
const CLAIM_EVENTS: &str = concat!(
    "WITH claimed AS (
         SELECT e.id FROM events e WHERE e.status = 'received' AND ",
    claimable!("e", "$1"),
    " ORDER BY e.seq LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE events e SET owner = $1 FROM claimed WHERE e.id = claimed.id
     RETURNING e.id, e.source, e.type, e.received_at, e.request, e.body, e.seq"
);

/// Hands the claimed messages back oldest first (`order`), each with its body: the one it
/// names, or its event's. Sorted by the database, so that they can be read one at a time and
/// the read stopped at its byte budget.
macro_rules! claimed_in_order {
    ($order:literal) => {
        concat!(
            "), taken AS (
                 UPDATE messages m SET owner = $4 FROM claimed WHERE m.id = claimed.id
                 RETURNING m.id, m.headers, m.body, m.body_is_event, m.event_id, m.attempts,
                           m.next_attempt_at, m.event_seq, m.seq)
             SELECT t.id, t.headers,
                    CASE WHEN t.body_is_event THEN (SELECT body FROM events WHERE id = t.event_id)
                         ELSE t.body END,
                    t.attempts
             FROM taken t ORDER BY ",
            $order
        )
    };
}

/// Claims the due messages of a subscriber but those in flight here (`$5`), oldest first.
const CLAIM_DUE: &str = concat!(
    "WITH claimed AS (
         SELECT m.id FROM messages m
         WHERE m.subscriber = $1 AND m.status = 'pending' AND m.next_attempt_at <= $2
           AND NOT m.id = ANY($5) AND ",
    claimable!("m", "$4"),
    " ORDER BY m.next_attempt_at, m.seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    claimed_in_order!("t.next_attempt_at, t.seq")
);

/// Claims the due messages of a per-key subscriber: the oldest pending message of each key,
/// wherever it is held, and none while an earlier event is still in a pipeline or held.
/// A message in flight here (`$5`) still holds back the rest of its key.
const CLAIM_DUE_PER_KEY: &str = concat!(
    "WITH claimed AS (
         SELECT m.id FROM messages m
         WHERE m.subscriber = $1 AND m.status = 'pending' AND m.next_attempt_at <= $2
           AND NOT m.id = ANY($5) AND ",
    claimable!("m", "$4"),
    " AND NOT EXISTS (
               SELECT 1 FROM messages p
               WHERE p.subscriber = m.subscriber AND p.key IS NOT DISTINCT FROM m.key
                 AND p.status = 'pending'
                 AND (p.event_seq < m.event_seq OR (p.event_seq = m.event_seq AND p.seq < m.seq)))
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.status = 'received' AND e.seq < m.event_seq)
           AND m.event_seq < COALESCE(
               (SELECT MIN(event_seq) FROM messages WHERE subscriber = $1 AND status = 'held'),
               9223372036854775807)
         ORDER BY m.event_seq, m.seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    claimed_in_order!("t.event_seq, t.seq")
);

const MESSAGE_COLUMNS: &str = "m.id, m.event_id, m.route, m.subscriber, m.status, m.type, m.key, \
     m.error, m.created_at, m.next_attempt_at, m.headers, \
     CASE WHEN m.body_is_event THEN e.body ELSE m.body END, m.plugins";

impl Store {
    /// Events accepted but not yet through a pipeline, oldest first, claimed for this node.
    pub async fn unprocessed_events(&self, limit: usize) -> Result<Vec<NewEvent>, StoreError> {
        let client = self.client().await?;
        let mut rows = client
            .query(
                &client.prepare_cached(CLAIM_EVENTS).await?,
                &[&self.node_id(), &(limit as i64)],
            )
            .await?;
        rows.sort_by_key(|row| row.get::<_, i64>(6));
        rows.iter().map(new_event).collect()
    }

    pub async fn load_event(&self, id: String) -> Result<Option<NewEvent>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = $1");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(new_event).transpose()
    }

    pub async fn held_events(
        &self,
        route: String,
        limit: usize,
    ) -> Result<Vec<NewEvent>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.id IN
               (SELECT event_id FROM messages WHERE status = 'held' AND route = $1)
             ORDER BY e.seq LIMIT $2"
        );
        let rows = client.query(&sql, &[&route, &(limit as i64)]).await?;
        rows.iter().map(new_event).collect()
    }

    pub async fn disabled_subscribers(
        &self,
    ) -> Result<BTreeMap<String, (i64, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, disabled_at, reason FROM disabled_subscribers",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), (row.get(1), row.get(2))))
            .collect())
    }

    pub async fn open_circuits(&self) -> Result<BTreeMap<String, OpenCircuit>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT subscriber, opened_at, probe_at, probe_interval_ms, probes, reason
                 FROM circuits",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let circuit = OpenCircuit {
                    opened_at: row.get(1),
                    probe_at: row.get(2),
                    probe_interval_ms: row.get(3),
                    probes: row.get::<_, i32>(4) as u32,
                    reason: row.get(5),
                };
                (row.get(0), circuit)
            })
            .collect())
    }

    /// Claims the subscriber's due messages for this node, but those `in_flight` here: up to
    /// `limit`, and past `max_bytes` of bodies only the first. They come one at a time, so
    /// that no more than that budget is held; what the budget leaves claimed and unread stays
    /// this node's, for its next read.
    pub async fn due_messages(
        &self,
        subscriber: String,
        now: i64,
        (limit, max_bytes): (usize, usize),
        in_flight: HashSet<String>,
        per_key: bool,
    ) -> Result<DueRead, StoreError> {
        let client = self.client().await?;
        let sql = if per_key {
            CLAIM_DUE_PER_KEY
        } else {
            CLAIM_DUE
        };
        let in_flight: Vec<String> = in_flight.into_iter().collect();
        let parameters: [&(dyn ToSql + Sync); 5] = [
            &subscriber,
            &now,
            &(limit as i64),
            &self.node_id(),
            &in_flight,
        ];
        let rows = client
            .query_raw(&client.prepare_cached(sql).await?, parameters)
            .await?;
        let mut rows = std::pin::pin!(rows);
        let mut due = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.try_next().await? {
            let id: String = row.get(0);
            let headers = serde_json::from_str(row.get(1))
                .map_err(|e| StoreError::Corrupt(format!("message {id} headers: {e}")))?;
            let body = Bytes::from(row.get::<_, Option<Vec<u8>>>(2).unwrap_or_default());
            bytes += body.len();
            if bytes > max_bytes && !due.is_empty() {
                return Ok(DueRead {
                    messages: due,
                    complete: false,
                });
            }
            due.push(DueMessage {
                id,
                subscriber: subscriber.clone(),
                headers,
                body,
                attempts: row.get::<_, i32>(3) as u32,
            });
        }
        // Fewer than the limit: the query ran out of due messages.
        Ok(DueRead {
            complete: due.len() < limit,
            messages: due,
        })
    }

    pub async fn next_due_after(
        &self,
        subscribers: Vec<String>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT MIN(next_attempt_at) FROM messages
                 WHERE subscriber = ANY($1) AND status = 'pending' AND next_attempt_at > $2",
                &[&subscribers, &now],
            )
            .await?;
        Ok(row.get(0))
    }

    pub async fn list_events(&self, query: EventQuery) -> Result<Page<EventSummary>, StoreError> {
        let conditions = query.conditions(&DIALECT);
        let sql = format!(
            "SELECT id, source, type, received_at, status FROM events WHERE {}
             ORDER BY seq DESC LIMIT {}",
            conditions.sql(),
            query.limit + 1
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &bound(&conditions.args)).await?;
        let rows = rows.iter().map(event_summary).collect();
        Ok(Page::cut(rows, query.limit, |event: &EventSummary| {
            &event.id
        }))
    }

    /// One event with its messages and their attempts, as one snapshot.
    pub async fn event(&self, id: String) -> Result<Option<EventRecord>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let Some(row) = transaction
            .query_opt(
                "SELECT id, source, type, received_at, status, request, body FROM events
                 WHERE id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN events e ON e.id = m.event_id
             WHERE m.event_id = $1 ORDER BY m.seq"
        );
        let mut messages: Vec<MessageRecord> = transaction
            .query(&sql, &[&id])
            .await?
            .iter()
            .map(message_record)
            .collect();
        let attempts = transaction
            .query(
                "SELECT a.message_id, a.at, a.status, a.latency_ms, a.error, a.response, a.node
                 FROM attempts a JOIN messages m ON m.id = a.message_id
                 WHERE m.event_id = $1 ORDER BY a.seq",
                &[&id],
            )
            .await?;
        for message in &mut messages {
            let of_message = attempts
                .iter()
                .filter(|row| row.get::<_, &str>(0) == message.id)
                .map(attempt_record)
                .collect();
            message.attempts = Some(of_message);
        }
        let request: String = row.get(5);
        Ok(Some(EventRecord {
            summary: event_summary(&row),
            request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
            body: json_column(row.get(6)),
            messages,
        }))
    }

    pub async fn count_messages(&self, status: MessageStatus) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE status = $1",
                &[&status.as_str()],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub async fn message(&self, id: String) -> Result<Option<MessageRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN events e ON e.id = m.event_id
             WHERE m.id = $1"
        );
        let row = client.query_opt(&sql, &[&id]).await?;
        Ok(row.as_ref().map(message_record))
    }

    pub async fn list_messages(
        &self,
        query: MessageQuery,
    ) -> Result<Page<MessageRecord>, StoreError> {
        let conditions = query.conditions(&DIALECT, "m");
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN events e ON e.id = m.event_id
             WHERE {} ORDER BY m.seq DESC LIMIT {}",
            conditions.sql(),
            query.limit + 1
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &bound(&conditions.args)).await?;
        let rows = rows.iter().map(message_record).collect();
        Ok(Page::cut(rows, query.limit, |message: &MessageRecord| {
            &message.id
        }))
    }

    /// Each subscriber's pending and dead messages; subscribers with neither are left out.
    pub async fn subscriber_queues(&self) -> Result<Vec<SubscriberQueue>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT subscriber,
                        COUNT(*) FILTER (WHERE status = 'pending'),
                        MIN(created_at) FILTER (WHERE status = 'pending'),
                        COUNT(*) FILTER (WHERE status = 'dead')
                 FROM messages WHERE status IN ('pending', 'dead')
                 GROUP BY subscriber ORDER BY subscriber",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| SubscriberQueue {
                subscriber: row.get(0),
                pending: row.get::<_, i64>(1) as u64,
                oldest_pending_at: row.get(2),
                dead: row.get::<_, i64>(3) as u64,
            })
            .collect())
    }
}

/// How listings write their SQL on PostgreSQL.
const DIALECT: Dialect = Dialect {
    seq: "seq",
    mark: |n| format!("${n}"),
};

/// A listing's values as the driver binds them.
fn bound(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| match arg {
            Arg::Text(text) => text as &(dyn ToSql + Sync),
            Arg::Int(int) => int as &(dyn ToSql + Sync),
        })
        .collect()
}

fn new_event(row: &Row) -> Result<NewEvent, StoreError> {
    let id: String = row.get(0);
    let request = serde_json::from_str(row.get(4))
        .map_err(|e| StoreError::Corrupt(format!("event {id} request: {e}")))?;
    Ok(NewEvent {
        source: row.get(1),
        event_type: row.get(2),
        received_at: row.get(3),
        request,
        body: Bytes::from(row.get::<_, Vec<u8>>(5)),
        id,
    })
}

fn event_summary(row: &Row) -> EventSummary {
    EventSummary {
        id: row.get(0),
        source: row.get(1),
        event_type: row.get(2),
        received_at: rfc3339(row.get(3)),
        status: row.get(4),
    }
}

fn message_record(row: &Row) -> MessageRecord {
    let body: Option<&[u8]> = row.get(11);
    MessageRecord {
        id: row.get(0),
        event_id: row.get(1),
        route: row.get(2),
        subscriber: row.get(3),
        status: row.get(4),
        message_type: row.get(5),
        key: row.get(6),
        error: row.get(7),
        created_at: rfc3339(row.get(8)),
        next_attempt_at: row.get::<_, Option<i64>>(9).map(rfc3339),
        headers: json_column(row.get::<_, &str>(10).as_bytes()),
        body: body.map(json_column).unwrap_or(serde_json::Value::Null),
        plugins: json_column(row.get::<_, &str>(12).as_bytes()),
        attempts: None,
    }
}

fn attempt_record(row: &Row) -> AttemptRecord {
    AttemptRecord {
        at: rfc3339(row.get(1)),
        status: row.get::<_, Option<i32>>(2).map(|s| s as u16),
        latency_ms: row.get(3),
        error: row.get(4),
        response: row
            .get::<_, Option<&[u8]>>(5)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
        node: row.get(6),
    }
}
