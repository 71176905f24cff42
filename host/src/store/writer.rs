//! The single writer: applies queued writes in batches, makes each batch durable in the
//! store's log, and commits what it applied to SQLite in one transaction per interval.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::log::{Log, Record};
use super::{
    Attempt, AttemptOutcome, Dedup, EventStatus, MessageStatus, NewEvent, NewMessage, StoreError,
};

/// The most writes one batch takes; bounds the latency a large backlog adds to each.
const MAX_BATCH: usize = 1024;

/// How long the writer keeps applying batches in one SQLite transaction before committing
/// it: the pages a commit changes (the tails of the tables and indexes) are written once per
/// interval rather than once per batch. Readers see a write at the latest this long after it
/// was answered, or at once when they ask (`Store::read` does).
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// How often the writer tries again to apply writes SQLite lost (a full disk), while no
/// write or reader prompts it.
const LOST_WRITES_RETRY: Duration = Duration::from_secs(1);

/// The longest a reader waits for the writer to commit what it answered.
const READ_WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize)]
pub(super) enum Write {
    InsertEvent {
        event: Arc<NewEvent>,
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
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

pub(super) type Reply = oneshot::Sender<Result<Written, StoreError>>;

pub(super) enum Queued {
    Write(Write, Reply),
    /// A reader waits to see every write answered so far: commit now.
    Flush,
}

/// How far the writer has got, shared with the readers.
pub(super) struct Progress {
    /// The log's last record written (and so answered, or about to be).
    logged: AtomicU64,
    /// The last record SQLite has committed, which readers see.
    committed: Mutex<u64>,
    commits: Condvar,
    /// SQLite lost writes the log holds (a failed commit, a full disk at the start) and has
    /// not got them back yet: the writer applies them again before anything else.
    behind: AtomicBool,
    /// Counts the times SQLite got them back: events accepted before are visible again. A
    /// counter rather than a notification, so that a waiter busy at that moment sees it next.
    pub catch_ups: tokio::sync::watch::Sender<u64>,
}

impl Progress {
    fn new(logged: u64, committed: u64) -> Progress {
        Progress {
            logged: AtomicU64::new(logged),
            committed: Mutex::new(committed),
            commits: Condvar::new(),
            behind: AtomicBool::new(committed < logged),
            catch_ups: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Blocks until SQLite shows every write answered before the call, asking the writer to
    /// commit at once rather than at the end of its interval. A full queue means a busy
    /// writer, which commits within the interval anyway. While SQLite is behind the log
    /// (a full disk), readers see what it last committed rather than wait in vain: the
    /// writes they then make are refused until it has caught up, and a run of the pipeline
    /// on an event processed meanwhile is ignored (`finish_event`).
    pub(super) fn wait_for_written(&self, writes: &SyncSender<Queued>) -> Result<(), StoreError> {
        let logged = self.logged.load(Ordering::Acquire);
        let committed = self.committed.lock().expect("store progress");
        if *committed >= logged {
            return Ok(());
        }
        let _ = writes.try_send(Queued::Flush);
        if self.is_behind() {
            return Ok(());
        }
        let (_committed, waited) = self
            .commits
            .wait_timeout_while(committed, READ_WAIT, |committed| *committed < logged)
            .expect("store progress");
        if waited.timed_out() {
            return Err(StoreError::Unavailable);
        }
        Ok(())
    }

    fn is_behind(&self) -> bool {
        self.behind.load(Ordering::Acquire)
    }

    fn committed(&self, last: u64) {
        *self.committed.lock().expect("store progress") = last;
        self.commits.notify_all();
    }
}

pub(super) struct Writer {
    conn: Connection,
    queue: Receiver<Queued>,
    log: Log,
    /// When the open SQLite transaction began; `None` while none is open.
    open_since: Option<Instant>,
    /// [`COMMIT_INTERVAL`], but in tests that hold writes in the log alone.
    commit_interval: Duration,
    /// Applying them again failed, and was logged.
    retry_failed: bool,
    /// A reader waits for what the open transaction holds.
    flush_asked: bool,
    /// SQLite started behind its log, or lost writes: the readers who could not see them
    /// are told once it has committed them.
    caught_up_untold: bool,
    progress: Arc<Progress>,
}

impl Write {
    /// Whether someone is told the write happened once it returns: a sender's `202`, an
    /// operator's action. Those must survive a power loss: their batch is synced to the disk.
    /// The pipeline's and delivery's own records need not: lost, they are redone (the event
    /// runs through the pipeline again, the message is attempted again), so at-least-once
    /// holds without an fsync of their own.
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

/// Applies the log's records after the last one SQLite holds, in the open transaction, and
/// records the last as held. Applying a record again gives what it gave the first time: it
/// carries its times and ids, and meets the state it met then. A record this build cannot
/// read (left by another version after a crash) fails the open rather than being dropped.
pub(super) fn apply_records(conn: &Connection, records: &[Record]) -> Result<(), StoreError> {
    for record in records {
        let write: Write = postcard::from_bytes(&record.payload)
            .map_err(|e| StoreError::Corrupt(format!("record {} of the log: {e}", record.seq)))?;
        if let Err(error) = in_savepoint(conn, &write) {
            tracing::warn!(seq = record.seq, %error, "a write of the store's log failed when applied again; left out");
        }
    }
    if let Some(last) = records.last() {
        set_applied(conn, last.seq)?;
    }
    Ok(())
}

/// Leaves out of an applied write the bytes its log record need not hold: a message passing
/// its event's body on names the event's body in SQLite, which `insert_messages` finds
/// without reading the message's copy.
fn drop_event_bodies(write: &mut Write) {
    if let Write::InsertEvent { messages, .. } | Write::FinishEvent { messages, .. } = write {
        for message in messages.iter_mut().filter(|m| m.body_is_event) {
            message.body = Some(Bytes::new());
        }
    }
}

/// Whether the write goes into the log: a redelivery wrote nothing, and a sender repeating one
/// costs no body in the log (nor a sync).
fn logged(written: &Written) -> bool {
    !matches!(written, Written::Duplicate(_))
}

/// The number of the last log record SQLite holds.
pub(super) fn applied(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn.query_row("SELECT seq FROM log_applied", [], |row| row.get(0))?;
    Ok(seq as u64)
}

fn set_applied(conn: &Connection, seq: u64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE log_applied SET seq = ?1")?
        .execute(params![seq as i64])?;
    Ok(())
}

/// Applies one write in a savepoint of its own, so that a failing write answers its own
/// caller without undoing the others of its batch.
fn in_savepoint(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    run(conn, "SAVEPOINT one")?;
    let result = apply(conn, write);
    if result.is_err() {
        run(conn, "ROLLBACK TO one")?;
    }
    run(conn, "RELEASE one")?;
    result
}

impl Writer {
    /// Starts the writer thread on a connection whose SQLite holds the records of `log` up to
    /// `applied`; it applies the others before it writes anything else.
    pub(super) fn spawn(
        conn: Connection,
        log: Log,
        applied: u64,
        queue: Receiver<Queued>,
        commit_interval: Duration,
    ) -> Arc<Progress> {
        let progress = Arc::new(Progress::new(log.last(), applied));
        let behind = progress.is_behind();
        let writer = Writer {
            conn,
            queue,
            log,
            open_since: None,
            commit_interval,
            retry_failed: false,
            flush_asked: false,
            caught_up_untold: behind,
            progress: progress.clone(),
        };
        std::thread::Builder::new()
            .name("wasmhook-store-writer".into())
            .spawn(move || writer.run())
            .expect("spawn the store writer thread");
        progress
    }

    fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let wait = match self.open_since {
                None if self.progress.is_behind() => Some(LOST_WRITES_RETRY),
                None => None,
                Some(since) => Some(self.commit_interval.saturating_sub(since.elapsed())),
            };
            let first = match wait {
                None => match self.queue.recv() {
                    Ok(first) => first,
                    Err(_) => break,
                },
                Some(wait) => match self.queue.recv_timeout(wait) {
                    Ok(first) => first,
                    Err(RecvTimeoutError::Timeout) => {
                        self.commit();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut next = Some(first);
            while let Some(queued) = next.take() {
                match queued {
                    Queued::Write(write, reply) => batch.push((write, reply)),
                    Queued::Flush => self.flush_asked = true,
                }
                if batch.len() < MAX_BATCH {
                    next = self.queue.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.write_batch(&mut batch);
            }
            let due = self
                .open_since
                .is_some_and(|since| since.elapsed() >= self.commit_interval);
            if self.flush_asked || due || self.log.is_full() || self.progress.is_behind() {
                self.commit();
            }
        }
        self.commit();
    }

    /// Applies every write of the batch in the open transaction, appends the ones that
    /// succeeded and wrote to the log (synced when one is acknowledged), then answers them.
    fn write_batch(&mut self, batch: &mut Vec<(Write, Reply)>) {
        let started = Instant::now();
        let outcome = self.apply_batch(batch);
        let results = match outcome {
            Ok(results) => results,
            Err(error) => {
                tracing::error!(%error, writes = batch.len(), "store commit failed");
                self.log.discard();
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK TO batch; RELEASE batch");
                }
                if self.open_since.is_some() && self.conn.is_autocommit() {
                    // SQLite rolled the whole transaction back: earlier batches are in the log only.
                    self.open_since = None;
                    self.lose_writes();
                }
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::CommitFailed(error.to_string())));
                }
                return;
            }
        };
        self.progress
            .logged
            .store(self.log.last(), Ordering::Release);
        crate::telemetry::store_committed(batch.len(), started.elapsed());
        for ((_, reply), result) in batch.drain(..).zip(results) {
            let _ = reply.send(result);
        }
    }

    fn apply_batch(
        &mut self,
        batch: &mut [(Write, Reply)],
    ) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
        if self.progress.is_behind() {
            self.apply_lost_writes()?;
        }
        self.begin()?;
        run(&self.conn, "SAVEPOINT batch")?;
        let mut results = Vec::with_capacity(batch.len());
        for (write, _) in batch.iter() {
            match apply(&self.conn, write) {
                Ok(written) => results.push(Ok(written)),
                Err(_) => break,
            }
        }
        if results.len() < batch.len() {
            // A write failed: the batch again, each write in a savepoint of its own, so that
            // it fails alone. A savepoint per write costs a copy of every page it changes
            // that the transaction had changed before, so only this rare path pays for it.
            run(&self.conn, "ROLLBACK TO batch")?;
            results = batch
                .iter()
                .map(|(write, _)| in_savepoint(&self.conn, write))
                .collect();
        }
        for ((write, _), result) in batch.iter_mut().zip(&results) {
            if result.as_ref().is_ok_and(logged) {
                drop_event_bodies(write);
                self.log.push(|out| {
                    postcard::to_io(&*write, out).expect("a write encodes into memory");
                });
            }
        }
        let sync = batch.iter().any(|(write, _)| write.acknowledged());
        self.log
            .write(sync)
            .map_err(|e| StoreError::CommitFailed(format!("appending to the store's log: {e}")))?;
        run(&self.conn, "RELEASE batch")?;
        Ok(results)
    }

    /// SQLite rolled back writes the log holds.
    fn lose_writes(&mut self) {
        self.caught_up_untold = true;
        self.progress.behind.store(true, Ordering::Release);
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.open_since.is_none() {
            run(&self.conn, "BEGIN IMMEDIATE")?;
            self.open_since = Some(Instant::now());
        }
        Ok(())
    }

    /// After a failed commit: applies the log's records SQLite lost again, in a new
    /// transaction, before anything else is written. On an error nothing of them stays applied.
    fn apply_lost_writes(&mut self) -> Result<(), StoreError> {
        let applied_again = (|| -> Result<usize, StoreError> {
            let records = self
                .log
                .read_after(applied(&self.conn)?)
                .map_err(|e| StoreError::CommitFailed(format!("reading the store's log: {e}")))?;
            self.begin()?;
            apply_records(&self.conn, &records)?;
            Ok(records.len())
        })();
        match applied_again {
            Ok(writes) => {
                tracing::info!(
                    writes,
                    "writes lost by a failed commit were applied again from the store's log"
                );
                // Readers wait for the commit from now on, which shows them everything.
                self.progress.behind.store(false, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                self.open_since = None;
                Err(error)
            }
        }
    }

    /// Commits the open transaction, recording the last record it holds, and shows it to
    /// readers. When the log's segment is full, the commit is synced and a new segment
    /// started: SQLite then holds the old one's records durably.
    fn commit(&mut self) {
        self.flush_asked = false;
        if self.progress.is_behind()
            && let Err(error) = self.apply_lost_writes()
        {
            // Once per outage, not once per try.
            if !self.retry_failed {
                tracing::error!(%error, "writes SQLite lost cannot be applied again yet; trying every {LOST_WRITES_RETRY:?}");
                self.retry_failed = true;
            }
            return;
        }
        if self.open_since.is_none() {
            return;
        }
        let started = Instant::now();
        let last = self.log.last();
        let new_segment = self.log.is_full();
        let committed = (|| -> Result<(), StoreError> {
            set_applied(&self.conn, last)?;
            run(&self.conn, "COMMIT")?;
            if new_segment {
                // `synchronous` cannot change inside a transaction: a small one of its own
                // syncs SQLite's log, and with it everything committed before.
                self.conn.execute_batch(
                    "PRAGMA synchronous = FULL;
                     BEGIN IMMEDIATE; UPDATE log_applied SET seq = seq; COMMIT;
                     PRAGMA synchronous = NORMAL;",
                )?;
            }
            Ok(())
        })();
        self.open_since = None;
        if let Err(error) = committed {
            tracing::error!(%error, "store commit failed; its writes are kept in the log and applied again");
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            self.lose_writes();
            return;
        }
        self.progress.committed(last);
        crate::telemetry::store_sqlite_committed(started.elapsed());
        if self.caught_up_untold {
            tracing::info!("the store has caught up with its log");
            self.retry_failed = false;
            self.caught_up_untold = false;
            self.progress.catch_ups.send_modify(|count| *count += 1);
        }
        if new_segment && let Err(error) = self.log.start_segment() {
            tracing::error!(%error, "could not start a new segment of the store's log");
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

/// Marks the event processed with its messages; nothing when it was processed already (a
/// second run of the pipeline on it, started from a stale read).
fn finish_event(
    conn: &Connection,
    event_id: &str,
    messages: &[NewMessage],
) -> Result<(), StoreError> {
    let received = conn
        .prepare_cached(
            "UPDATE events SET status = 'processed' WHERE id = ?1 AND status = 'received'",
        )?
        .execute(params![event_id])?;
    if received > 0 {
        insert_messages(conn, messages)?;
    }
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
