//! The single writer: batches queued writes into one transaction per commit.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    Attempt, AttemptOutcome, Dedup, EventStatus, MessageStatus, NewEvent, NewMessage, StoreError,
};

/// The most writes one transaction takes; bounds the latency a large backlog adds to each.
const MAX_BATCH: usize = 1024;

pub(super) enum Write {
    InsertEvent {
        event: std::sync::Arc<NewEvent>,
        dedup: Vec<Dedup>,
        status: EventStatus,
        messages: Vec<NewMessage>,
    },
    FinishEvent {
        event_id: String,
        messages: Vec<NewMessage>,
    },
    RecordAttempt {
        message_id: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    },
    RetryMessage {
        message_id: String,
        now: i64,
    },
    ReplayEvent {
        event_id: String,
    },
    ReleaseHeld {
        event_id: String,
        route: String,
        messages: Vec<NewMessage>,
    },
    DisableSubscriber {
        name: String,
        at: i64,
        reason: String,
    },
    EnableSubscriber {
        name: String,
    },
    Prune(Expiry),
}

/// The most events one prune removes; the caller prunes again while a prune removes this many.
pub const PRUNE_BATCH: usize = 1000;

/// What has expired: events by their age and state, delivery ids by the longest dedup window.
#[derive(Debug, Clone, Copy)]
pub struct Expiry {
    pub settled_before: i64,
    pub dead_before: i64,
    pub dedup_before: i64,
}

/// What a write did, for the writes whose callers branch on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The event is a redelivery of this earlier one; nothing was written.
    Duplicate(String),
    /// How many rows the write changed (or removed).
    Rows(usize),
}

type Queued = (Write, oneshot::Sender<Result<Written, StoreError>>);

pub(super) struct Writer {
    conn: Connection,
    queue: mpsc::Receiver<Queued>,
    /// Whether the connection is set to `synchronous=FULL` (else `NORMAL`).
    full_sync: bool,
}

impl Write {
    /// Whether someone is told the write happened once it returns: a sender's `202`, an
    /// operator's action. Those must survive a power loss. The pipeline's and delivery's own
    /// records need not: lost, they are redone (the event runs through the pipeline again, the
    /// message is attempted again), so at-least-once holds without an fsync of their own.
    fn acknowledged(&self) -> bool {
        !matches!(
            self,
            Write::FinishEvent { .. }
                | Write::ReleaseHeld { .. }
                | Write::RecordAttempt { .. }
                | Write::Prune(_)
        )
    }
}

impl Writer {
    pub(super) fn spawn(conn: Connection, queue: mpsc::Receiver<Queued>) {
        let writer = Writer {
            conn,
            queue,
            full_sync: true,
        };
        std::thread::Builder::new()
            .name("wasmhook-store-writer".into())
            .spawn(move || writer.run())
            .expect("spawn the store writer thread");
    }

    fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = self.queue.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    /// Applies every write of the batch in one transaction; each write sits in a savepoint so
    /// that one failing write answers its own caller without undoing the others.
    ///
    /// A batch with an acknowledged write commits with `synchronous=FULL` (fsync), any other
    /// with `NORMAL`: in WAL mode that still writes the transaction to the log before
    /// returning, so a crash of the process loses nothing, and the next fsync covers it too.
    fn commit(&mut self, batch: &mut Vec<Queued>) {
        let started = std::time::Instant::now();
        let mut results = Vec::with_capacity(batch.len());
        let full_sync = batch.iter().any(|(write, _)| write.acknowledged());
        let outcome = (|| -> Result<(), rusqlite::Error> {
            if full_sync != self.full_sync {
                run(
                    &self.conn,
                    if full_sync {
                        "PRAGMA synchronous = FULL"
                    } else {
                        "PRAGMA synchronous = NORMAL"
                    },
                )?;
                self.full_sync = full_sync;
            }
            run(&self.conn, "BEGIN IMMEDIATE")?;
            for (write, _) in batch.iter() {
                run(&self.conn, "SAVEPOINT one")?;
                let result = apply(&self.conn, write);
                if result.is_err() {
                    run(&self.conn, "ROLLBACK TO one")?;
                }
                run(&self.conn, "RELEASE one")?;
                results.push(result);
            }
            run(&self.conn, "COMMIT")
        })();
        if let Err(error) = outcome {
            tracing::error!(%error, writes = batch.len(), "store commit failed");
            let _ = self.conn.execute_batch("ROLLBACK");
            for (_, done) in batch.drain(..) {
                let _ = done.send(Err(StoreError::CommitFailed(error.to_string())));
            }
            return;
        }
        crate::telemetry::store_committed(batch.len(), started.elapsed());
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

/// Runs a statement without parameters from the statement cache: the savepoints around every
/// write would otherwise be parsed anew each time: over half of the writer's time under load.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn apply(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    let done = |result: Result<(), StoreError>| result.map(|()| Written::Done);
    match write {
        Write::InsertEvent { event, dedup, status, messages } => {
            let inserted = insert_event(conn, event, dedup, *status)?;
            if inserted == Written::Done {
                insert_messages(conn, messages)?;
            }
            Ok(inserted)
        }
        Write::FinishEvent { event_id, messages } => done(finish_event(conn, event_id, messages)),
        Write::RecordAttempt { message_id, attempt, outcome } => {
            done(record_attempt(conn, message_id, attempt, *outcome))
        }
        Write::RetryMessage { message_id, now } => rows(conn.execute(
            "UPDATE messages SET status = 'pending', next_attempt_at = ?2
             WHERE id = ?1 AND status = 'dead' AND body_id IS NOT NULL",
            params![message_id, now],
        )),
        Write::ReplayEvent { event_id } => rows(conn.execute(
            "UPDATE events SET status = 'received' WHERE id = ?1",
            params![event_id],
        )),
        Write::ReleaseHeld {
            event_id,
            route,
            messages,
        } => release_held(conn, event_id, route, messages),
        Write::DisableSubscriber { name, at, reason } => rows(conn.execute(
            "INSERT OR IGNORE INTO disabled_subscribers (name, disabled_at, reason) VALUES (?1, ?2, ?3)",
            params![name, at, reason],
        )),
        Write::EnableSubscriber { name } => {
            rows(conn.execute("DELETE FROM disabled_subscribers WHERE name = ?1", params![name]))
        }
        Write::Prune(expiry) => prune(conn, expiry),
    }
}

fn rows(changed: rusqlite::Result<usize>) -> Result<Written, StoreError> {
    Ok(Written::Rows(changed?))
}

/// Inserts the event, unless one of its keys (a provider delivery id, a replay key) was seen
/// within its window.
fn insert_event(
    conn: &Connection,
    event: &NewEvent,
    dedup: &[Dedup],
    status: EventStatus,
) -> Result<Written, StoreError> {
    for dedup in dedup {
        let seen: Option<(String, i64)> = conn
            .prepare_cached(
                "SELECT event_id, received_at FROM dedup WHERE source = ?1 AND key = ?2",
            )?
            .query_row(params![event.source, dedup.key], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        if let Some((event_id, at)) = seen
            && at >= event.received_at - dedup.window_ms
        {
            return Ok(Written::Duplicate(event_id));
        }
    }
    for dedup in dedup {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO dedup (source, key, event_id, received_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![event.source, dedup.key, event.id, event.received_at])?;
    }
    let request = serde_json::to_string(&event.request).expect("request metadata serialises");
    let body_id = insert_body(conn, &event.body)?;
    conn.prepare_cached(
        "INSERT INTO events (id, source, type, received_at, request, status, body_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.id,
        event.source,
        event.event_type,
        event.received_at,
        request,
        status.as_str(),
        body_id
    ])?;
    Ok(Written::Done)
}

fn insert_body(conn: &Connection, body: &[u8]) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO bodies (data) VALUES (?1)")?
        .execute(params![body])?;
    Ok(conn.last_insert_rowid())
}

fn finish_event(
    conn: &Connection,
    event_id: &str,
    messages: &[NewMessage],
) -> Result<(), StoreError> {
    insert_messages(conn, messages)?;
    conn.prepare_cached("UPDATE events SET status = 'processed' WHERE id = ?1")?
        .execute(params![event_id])?;
    Ok(())
}

/// Inserts one event's messages. A body is stored once: a message passing the event's body
/// on names the event's, and the messages one output goes to (one allocation, shared by
/// consecutive messages, see `pipeline::messages`) share one. Telling them apart by the
/// allocation rather than by content keeps the cost per message constant, however many
/// messages and bytes a plugin returns.
fn insert_messages(conn: &Connection, messages: &[NewMessage]) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (id, event_id, event_seq, route, subscriber, status, type, key,
                               headers, body_id, error, plugins, created_at, next_attempt_at)
         VALUES (?1, ?2, (SELECT rowid FROM events WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                 ?10, ?11, ?12, ?13)",
    )?;
    let mut event_body = None;
    let mut previous: Option<(&Bytes, i64)> = None;
    for message in messages {
        let due = (message.status == MessageStatus::Pending).then_some(message.created_at);
        let body_id = match &message.body {
            None => None,
            Some(_) if message.body_is_event => Some(match event_body {
                Some(id) => id,
                None => *event_body.insert(event_body_id(conn, &message.event_id)?),
            }),
            Some(body) => Some(match previous {
                Some((shared, id)) if same_allocation(shared, body) => id,
                _ => {
                    let id = insert_body(conn, body)?;
                    previous = Some((body, id));
                    id
                }
            }),
        };
        insert.execute(params![
            message.id,
            message.event_id,
            message.route,
            message.subscriber,
            message.status.as_str(),
            message.message_type,
            message.key,
            serde_json::to_string(&message.headers).expect("headers serialise"),
            body_id,
            message.error,
            serde_json::to_string(&message.plugins).expect("plugin list serialises"),
            message.created_at,
            due,
        ])?;
    }
    Ok(())
}

fn same_allocation(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

fn event_body_id(conn: &Connection, event_id: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT body_id FROM events WHERE id = ?1")?
        .query_row(params![event_id], |row| row.get(0))?)
}

fn record_attempt(
    conn: &Connection,
    message_id: &str,
    attempt: &Attempt,
    outcome: AttemptOutcome,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO attempts (message_id, at, status, latency_ms, error, response)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        message_id,
        attempt.at,
        attempt.status,
        attempt.latency_ms,
        attempt.error,
        attempt.response.as_deref()
    ])?;
    let (status, next) = match outcome {
        AttemptOutcome::Delivered => (MessageStatus::Delivered, None),
        AttemptOutcome::RetryAt(at) => (MessageStatus::Pending, Some(at)),
        AttemptOutcome::Dead => (MessageStatus::Dead, None),
    };
    conn.prepare_cached(
        "UPDATE messages SET status = ?2, next_attempt_at = ?3, attempts = attempts + 1,
                             error = ?4
         WHERE id = ?1",
    )?
    .execute(params![message_id, status.as_str(), next, attempt.error])?;
    Ok(())
}

/// Removes up to [`PRUNE_BATCH`] events older than their retention, with their messages and
/// attempts: settled ones (nothing pending or dead) before `settled_before`, ones with dead
/// messages before `dead_before`; events still pending or held anywhere are never removed. Also
/// forgets provider delivery ids seen before `dedup_before`. Small batches keep each
/// transaction short, so ingest commits never wait long behind a prune. Events are walked in
/// acceptance order up to the first one too young to expire, so a prune reads what it may
/// remove and not the whole table.
fn prune(conn: &Connection, expiry: &Expiry) -> Result<Written, StoreError> {
    let Expiry {
        settled_before,
        dead_before,
        dedup_before,
    } = *expiry;
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS expired (id TEXT PRIMARY KEY) WITHOUT ROWID;
         DELETE FROM temp.expired;",
    )?;
    conn.execute(
        "INSERT INTO temp.expired (id)
         SELECT e.id FROM events e
         WHERE e.rowid < IFNULL(
                 (SELECT rowid FROM events WHERE received_at >= max(?1, ?2) ORDER BY rowid LIMIT 1),
                 9223372036854775807)
           AND e.received_at < max(?1, ?2)
           AND e.status = 'processed'
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.event_id = e.id AND m.status IN ('pending', 'held'))
           AND CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.event_id = e.id AND m.status = 'dead')
                    THEN e.received_at < ?1
                    ELSE e.received_at < ?2 END
         LIMIT ?3",
        params![dead_before, settled_before, PRUNE_BATCH as i64],
    )?;
    conn.execute(
        "DELETE FROM attempts WHERE message_id IN
           (SELECT id FROM messages WHERE event_id IN (SELECT id FROM temp.expired))",
        [],
    )?;
    conn.execute(
        "DELETE FROM bodies WHERE id IN
           (SELECT body_id FROM events WHERE id IN (SELECT id FROM temp.expired)
            UNION
            SELECT body_id FROM messages WHERE event_id IN (SELECT id FROM temp.expired))",
        [],
    )?;
    conn.execute(
        "DELETE FROM messages WHERE event_id IN (SELECT id FROM temp.expired)",
        [],
    )?;
    let removed = conn.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM temp.expired)",
        [],
    )?;
    conn.execute(
        "DELETE FROM dedup WHERE received_at < ?1",
        params![dedup_before],
    )?;
    Ok(Written::Rows(removed))
}

/// Replaces the held messages of (`event_id`, `route`) by `messages`; nothing when there are
/// none (already released).
fn release_held(
    conn: &Connection,
    event_id: &str,
    route: &str,
    messages: &[NewMessage],
) -> Result<Written, StoreError> {
    let released = conn
        .prepare_cached(
            "DELETE FROM messages WHERE event_id = ?1 AND route = ?2 AND status = 'held'",
        )?
        .execute(params![event_id, route])?;
    if released > 0 {
        insert_messages(conn, messages)?;
    }
    Ok(Written::Rows(released))
}
