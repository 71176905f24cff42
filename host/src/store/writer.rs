//! The single writer: batches queued writes into one transaction per commit.

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::{Attempt, AttemptOutcome, MessageStatus, NewEvent, NewMessage, StoreError};

/// The most writes one transaction takes; bounds the latency a large backlog adds to each.
const MAX_BATCH: usize = 1024;

pub(super) enum Write {
    InsertEvent(NewEvent),
    FinishEvent {
        event_id: String,
        messages: Vec<NewMessage>,
    },
    RecordAttempt {
        message_id: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    },
}

type Queued = (Write, oneshot::Sender<Result<(), StoreError>>);

pub(super) struct Writer {
    conn: Connection,
    queue: mpsc::Receiver<Queued>,
}

impl Writer {
    pub(super) fn spawn(conn: Connection, queue: mpsc::Receiver<Queued>) {
        let writer = Writer { conn, queue };
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
    fn commit(&mut self, batch: &mut Vec<Queued>) {
        let mut results = Vec::with_capacity(batch.len());
        let outcome = (|| -> Result<(), rusqlite::Error> {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            for (write, _) in batch.iter() {
                self.conn.execute_batch("SAVEPOINT one")?;
                let result = apply(&self.conn, write);
                if result.is_err() {
                    self.conn.execute_batch("ROLLBACK TO one")?;
                }
                self.conn.execute_batch("RELEASE one")?;
                results.push(result);
            }
            self.conn.execute_batch("COMMIT")
        })();
        if let Err(error) = outcome {
            tracing::error!(%error, writes = batch.len(), "store commit failed");
            let _ = self.conn.execute_batch("ROLLBACK");
            for (_, done) in batch.drain(..) {
                let _ = done.send(Err(StoreError::Unavailable));
            }
            return;
        }
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

fn apply(conn: &Connection, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::InsertEvent(event) => insert_event(conn, event),
        Write::FinishEvent { event_id, messages } => finish_event(conn, event_id, messages),
        Write::RecordAttempt {
            message_id,
            attempt,
            outcome,
        } => record_attempt(conn, message_id, attempt, *outcome),
    }
}

fn insert_event(conn: &Connection, event: &NewEvent) -> Result<(), StoreError> {
    let request = serde_json::to_string(&event.request).expect("request metadata serialises");
    conn.prepare_cached(
        "INSERT INTO events (id, source, type, received_at, request, body, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received')",
    )?
    .execute(params![
        event.id,
        event.source,
        event.event_type,
        event.received_at,
        request,
        &event.body[..]
    ])?;
    Ok(())
}

fn finish_event(
    conn: &Connection,
    event_id: &str,
    messages: &[NewMessage],
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (id, event_id, route, subscriber, status, type, key, headers, body,
                               error, plugins, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for message in messages {
        let due = (message.status == MessageStatus::Pending).then_some(message.created_at);
        insert.execute(params![
            message.id,
            message.event_id,
            message.route,
            message.subscriber,
            message.status.as_str(),
            message.message_type,
            message.key,
            serde_json::to_string(&message.headers).expect("headers serialise"),
            message.body.as_deref(),
            message.error,
            serde_json::to_string(&message.plugins).expect("plugin list serialises"),
            message.created_at,
            due,
        ])?;
    }
    conn.prepare_cached("UPDATE events SET status = 'processed' WHERE id = ?1")?
        .execute(params![event_id])?;
    Ok(())
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
