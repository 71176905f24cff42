//! Queries: what delivery needs next, what recovery must redo, what the admin API shows.

use crate::clock::rfc3339;
use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::bodies::body_sql as body;
use super::{DueMessage, DueRead, MessageStatus, NewEvent, OpenCircuit, Store, StoreError};
use crate::store::listing::{Arg, Dialect, EventQuery, MessageQuery, Page, SubscriberQueue};
use crate::store::views::{AttemptRecord, EventRecord, EventSummary, MessageRecord, json_column};

/// The SQL that reads an event's request, as JSON text: in `request` for events stored before
/// requests went to the store's log, else where `request_body_id` names it.
macro_rules! request {
    () => {
        concat!(
            "CASE WHEN request_body_id IS NULL THEN request ELSE CAST(",
            body!("request_body_id"),
            " AS TEXT) END"
        )
    };
}

const DUE_CONCURRENT: &str = concat!(
    "SELECT id, headers, ",
    body!("body_id"),
    ", attempts FROM messages
     WHERE subscriber = ?1 AND status = 'pending' AND next_attempt_at <= ?2
     ORDER BY next_attempt_at, rowid LIMIT ?3"
);

const DUE_PER_KEY: &str = concat!(
    "SELECT id, headers, ",
    body!("body_id"),
    ", attempts FROM messages m
     WHERE subscriber = ?1 AND status = 'pending' AND next_attempt_at <= ?2
       AND NOT EXISTS (
           SELECT 1 FROM messages p
           WHERE p.subscriber = m.subscriber AND p.key IS m.key AND p.status = 'pending'
             AND (p.event_seq < m.event_seq OR (p.event_seq = m.event_seq AND p.rowid < m.rowid)))
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.status = 'received' AND e.rowid < m.event_seq)
       AND m.event_seq < IFNULL(
           (SELECT MIN(event_seq) FROM messages WHERE subscriber = ?1 AND status = 'held'),
           9223372036854775807)
     ORDER BY event_seq, rowid LIMIT ?3"
);

pub(super) const EVENT_COLUMNS: &str = concat!(
    "id, source, type, received_at, ",
    request!(),
    ", ",
    body!("body_id")
);

type RawEvent = (String, String, Option<String>, i64, String, Vec<u8>);

pub(super) fn raw_event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

pub(super) fn new_event(
    (id, source, event_type, received_at, request, body): RawEvent,
) -> Result<NewEvent, StoreError> {
    let request = serde_json::from_str(&request)
        .map_err(|e| StoreError::Corrupt(format!("event {id} request: {e}")))?;
    Ok(NewEvent {
        id,
        source,
        event_type,
        received_at,
        request,
        body: Bytes::from(body),
    })
}

const MESSAGE_COLUMNS: &str = concat!(
    "id, event_id, route, subscriber, status, type, key, error, created_at, next_attempt_at, \
     headers, ",
    body!("body_id"),
    ", CASE WHEN plugin_list IS NULL THEN plugins
            ELSE (SELECT l.plugins FROM plugin_lists l WHERE l.id = plugin_list) END"
);

impl Store {
    /// Events accepted but not yet through the pipeline, oldest first.
    pub async fn unprocessed_events(&self, limit: usize) -> Result<Vec<NewEvent>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE status = 'received' ORDER BY rowid LIMIT ?1");
            let mut query = conn.prepare_cached(&sql)?;
            let rows = query.query_map(params![limit as i64], raw_event)?;
            rows.map(|row| new_event(row?)).collect()
        })
        .await
    }

    /// One event as the pipeline takes it.
    pub async fn load_event(&self, id: String) -> Result<Option<NewEvent>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1");
            let raw = conn
                .prepare_cached(&sql)?
                .query_row(params![id], raw_event)
                .optional()?;
            raw.map(new_event).transpose()
        })
        .await
    }

    /// Subscribers disabled by a `410 Gone`, with when and why.
    pub async fn disabled_subscribers(
        &self,
    ) -> Result<BTreeMap<String, (i64, String)>, StoreError> {
        self.read(|conn| {
            let mut query =
                conn.prepare_cached("SELECT name, disabled_at, reason FROM disabled_subscribers")?;
            let rows = query.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The subscribers whose circuit is open.
    pub async fn open_circuits(&self) -> Result<BTreeMap<String, OpenCircuit>, StoreError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT subscriber, opened_at, probe_at, probe_interval_ms, probes, reason
                 FROM circuits",
            )?;
            let rows = query.query_map([], |row| {
                let circuit = OpenCircuit {
                    opened_at: row.get(1)?,
                    probe_at: row.get(2)?,
                    probe_interval_ms: row.get(3)?,
                    probes: row.get(4)?,
                    reason: row.get(5)?,
                };
                Ok((row.get(0)?, circuit))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Pending messages for `subscriber` whose attempt is due at `now`, skipping `in_flight`:
    /// up to `limit` messages, and past `max_bytes` of bodies only the first.
    ///
    /// With `per_key`, only the oldest pending message of each ordering key is due, and none
    /// while an earlier event is still in the pipeline (its messages could come first).
    pub async fn due_messages(
        &self,
        subscriber: String,
        now: i64,
        (limit, max_bytes): (usize, usize),
        in_flight: HashSet<String>,
        per_key: bool,
    ) -> Result<DueRead, StoreError> {
        self.read(move |conn| {
            let mut query =
                conn.prepare_cached(if per_key { DUE_PER_KEY } else { DUE_CONCURRENT })?;
            let mut rows =
                query.query(params![subscriber, now, (limit + in_flight.len()) as i64])?;
            let mut due = Vec::new();
            let mut bytes = 0;
            let mut cut_short = false;
            while due.len() < limit
                && let Some(row) = rows.next()?
            {
                // Messages in flight come first, being the oldest due: the id alone tells them
                // apart, without reading their bodies.
                let id: String = row.get(0)?;
                if in_flight.contains(&id) {
                    continue;
                }
                let headers: BTreeMap<String, String> =
                    serde_json::from_str(&row.get::<_, String>(1)?)
                        .map_err(|e| StoreError::Corrupt(format!("message {id} headers: {e}")))?;
                let body = Bytes::from(row.get::<_, Option<Vec<u8>>>(2)?.unwrap_or_default());
                bytes += body.len();
                if bytes > max_bytes && !due.is_empty() {
                    cut_short = true;
                    break;
                }
                due.push(DueMessage {
                    headers,
                    body,
                    attempts: row.get(3)?,
                    subscriber: subscriber.clone(),
                    id,
                });
            }
            // Fewer than asked for, and not for want of room: the query ran out of rows, which
            // it has more of than the limit while any are left (those in flight among them).
            Ok(DueRead {
                complete: due.len() < limit && !cut_short,
                messages: due,
            })
        })
        .await
    }

    /// When the earliest pending message of these subscribers falls due after `now`: one
    /// seek each in the index delivery reads by, rather than an index of its own to maintain.
    pub async fn next_due_after(
        &self,
        subscribers: Vec<String>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.read(move |conn| {
            let mut query = conn.prepare_cached(
                "SELECT MIN(next_attempt_at) FROM messages
                 WHERE subscriber = ?1 AND status = 'pending' AND next_attempt_at > ?2",
            )?;
            let mut earliest = None;
            for subscriber in subscribers {
                let next: Option<i64> =
                    query.query_row(params![subscriber, now], |row| row.get(0))?;
                earliest = earliest.into_iter().chain(next).min();
            }
            Ok(earliest)
        })
        .await
    }

    pub async fn list_events(&self, query: EventQuery) -> Result<Page<EventSummary>, StoreError> {
        self.read(move |conn| {
            let conditions = query.conditions(&DIALECT);
            let sql = format!(
                "SELECT id, source, type, received_at, status FROM events WHERE {}
                 ORDER BY rowid DESC LIMIT {}",
                conditions.sql(),
                query.limit + 1
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params_from_iter(&conditions.args), event_summary)?;
            let rows = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(Page::cut(rows, query.limit, |event| &event.id))
        })
        .await
    }

    pub async fn event(&self, id: String) -> Result<Option<EventRecord>, StoreError> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(concat!(
                    "SELECT id, source, type, received_at, status, ",
                    request!(),
                    ", ",
                    body!("body_id"),
                    " FROM events WHERE id = ?1"
                ))?
                .query_row(params![id], |row| {
                    Ok((
                        event_summary(row)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Vec<u8>>(6)?,
                    ))
                })
                .optional()?;
            let Some((summary, request, body)) = found else {
                return Ok(None);
            };
            let mut messages = messages_where(conn, "event_id = ?1 ORDER BY rowid", params![id])?;
            for message in &mut messages {
                message.attempts = Some(attempts_of(conn, &message.id)?);
            }
            Ok(Some(EventRecord {
                summary,
                request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
                body: json_column(&body),
                messages,
            }))
        })
        .await
    }

    /// How many messages have `status`. The status is written into the statement, so that
    /// counting pending messages reads the index of pending ones only.
    pub async fn count_messages(&self, status: MessageStatus) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT COUNT(*) FROM messages WHERE status = '{}'",
                status.as_str()
            );
            Ok(conn.prepare_cached(&sql)?.query_row([], |row| row.get(0))?)
        })
        .await
    }

    pub async fn message(&self, id: String) -> Result<Option<MessageRecord>, StoreError> {
        self.read(move |conn| Ok(messages_where(conn, "id = ?1", params![id])?.pop()))
            .await
    }

    pub async fn list_messages(
        &self,
        query: MessageQuery,
    ) -> Result<Page<MessageRecord>, StoreError> {
        self.read(move |conn| {
            let conditions = query.conditions(&DIALECT, "messages");
            let condition = format!(
                "{} ORDER BY rowid DESC LIMIT {}",
                conditions.sql(),
                query.limit + 1
            );
            let rows = messages_where(conn, &condition, params_from_iter(&conditions.args))?;
            Ok(Page::cut(rows, query.limit, |message| &message.id))
        })
        .await
    }

    /// Each subscriber's pending and dead messages; subscribers with neither are left out.
    pub async fn subscriber_queues(&self) -> Result<Vec<SubscriberQueue>, StoreError> {
        self.read(move |conn| {
            let mut queues: BTreeMap<String, SubscriberQueue> = BTreeMap::new();
            let mut pending = conn.prepare_cached(
                "SELECT subscriber, COUNT(*), MIN(created_at) FROM messages
                 WHERE status = 'pending' GROUP BY subscriber",
            )?;
            let rows = pending.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
            })?;
            for row in rows {
                let (subscriber, count, oldest) = row?;
                let queue = queue_of(&mut queues, subscriber);
                (queue.pending, queue.oldest_pending_at) = (count, oldest);
            }
            let mut dead = conn.prepare_cached(
                "SELECT subscriber, COUNT(*) FROM messages WHERE status = 'dead' GROUP BY subscriber",
            )?;
            let rows = dead.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
            for row in rows {
                let (subscriber, count) = row?;
                queue_of(&mut queues, subscriber).dead = count;
            }
            Ok(queues.into_values().collect())
        })
        .await
    }
}

/// How listings write their SQL on SQLite.
const DIALECT: Dialect = Dialect {
    seq: "rowid",
    mark: |n| format!("?{n}"),
};

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(text) => text.to_sql(),
            Arg::Int(int) => int.to_sql(),
        }
    }
}

fn queue_of(
    queues: &mut BTreeMap<String, SubscriberQueue>,
    subscriber: String,
) -> &mut SubscriberQueue {
    queues.entry(subscriber.clone()).or_insert(SubscriberQueue {
        subscriber,
        pending: 0,
        oldest_pending_at: None,
        dead: 0,
    })
}

fn event_summary(row: &Row<'_>) -> rusqlite::Result<EventSummary> {
    Ok(EventSummary {
        id: row.get(0)?,
        source: row.get(1)?,
        event_type: row.get(2)?,
        received_at: rfc3339(row.get(3)?),
        status: row.get(4)?,
    })
}

fn messages_where(
    conn: &Connection,
    condition: &str,
    arguments: impl rusqlite::Params,
) -> Result<Vec<MessageRecord>, StoreError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {condition}");
    let mut query = conn.prepare_cached(&sql)?;
    let rows = query.query_map(arguments, message_record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn message_record(row: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    let body: Option<Vec<u8>> = row.get(11)?;
    Ok(MessageRecord {
        id: row.get(0)?,
        event_id: row.get(1)?,
        route: row.get(2)?,
        subscriber: row.get(3)?,
        status: row.get(4)?,
        message_type: row.get(5)?,
        key: row.get(6)?,
        error: row.get(7)?,
        created_at: rfc3339(row.get(8)?),
        next_attempt_at: row.get::<_, Option<i64>>(9)?.map(rfc3339),
        headers: json_column(row.get::<_, String>(10)?.as_bytes()),
        body: body
            .as_deref()
            .map(json_column)
            .unwrap_or(serde_json::Value::Null),
        plugins: json_column(row.get::<_, String>(12)?.as_bytes()),
        attempts: None,
    })
}

fn attempts_of(conn: &Connection, message_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut query = conn.prepare_cached(
        "SELECT at, status, latency_ms, error, response FROM attempts
         WHERE message_id = ?1 ORDER BY at, rowid",
    )?;
    let rows = query.query_map(params![message_id], |row| {
        Ok(AttemptRecord {
            at: rfc3339(row.get(0)?),
            status: row.get(1)?,
            latency_ms: row.get(2)?,
            error: row.get(3)?,
            response: row
                .get::<_, Option<Vec<u8>>>(4)?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            node: None,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
