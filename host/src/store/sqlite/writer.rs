//! The single writer: applies queued writes in batches, makes each batch durable in the
//! store's log, and commits what it applied to SQLite in one transaction per interval.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::bodies::{self, MessageBody};
use super::log::{Bodies, BodyAt, Log, Record};
use super::{
    Attempt, AttemptOutcome, Dedup, EventStatus, Expiry, MessageStatus, NewEvent, NewMessage,
    OpenCircuit, PRUNE_BATCH, StoreError,
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
    OpenCircuit {
        subscriber: String,
        circuit: OpenCircuit,
    },
    CloseCircuit {
        subscriber: String,
    },
    RetryDeadOf {
        subscriber: String,
        now: i64,
    },
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

/// Where a write's bodies are in the log: logged beside the write, whose own record of them
/// (`NewEvent::body`, `NewMessage::body`) is not.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Placed {
    event: Option<BodyAt>,
    messages: Vec<MessageBody>,
    /// The event's request (`NewEvent::request`) as JSON: like a body, written once, here.
    request: Option<BodyAt>,
}

impl Placed {
    /// Adds the write's bodies to the log record being built.
    fn new(log: &mut Log, write: &Write) -> Placed {
        match write {
            Write::InsertEvent {
                event, messages, ..
            } => Placed {
                event: Some(log.add_body(&event.body)),
                messages: bodies::place_messages(log, messages),
                request: Some(log.add_body(
                    &serde_json::to_vec(&event.request).expect("request metadata serialises"),
                )),
            },
            Write::FinishEvent { messages, .. } | Write::ReleaseHeld { messages, .. } => Placed {
                event: None,
                messages: bodies::place_messages(log, messages),
                request: None,
            },
            _ => Placed::default(),
        }
    }
}

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
    bodies: Arc<Bodies>,
    /// A prune went through the events: at the next commit, bodies of segments last written
    /// before this time move into SQLite, and segments SQLite names no body in go.
    reclaim: Option<i64>,
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
                | Write::OpenCircuit { .. }
                | Write::CloseCircuit { .. }
        )
    }
}

/// Applies the log's records after the last one SQLite holds, in the open transaction, and
/// records the last as held. Applying a record again gives what it gave the first time: it
/// carries its times and ids, and meets the state it met then. A record this build cannot
/// read (left by another version after a crash) fails the open rather than being dropped.
pub(super) fn apply_records(conn: &Connection, records: &[Record]) -> Result<(), StoreError> {
    for record in records {
        let (write, placed): (Write, Placed) = postcard::from_bytes(&record.payload)
            .map_err(|e| StoreError::Corrupt(format!("record {} of the log: {e}", record.seq)))?;
        if let Err(error) = in_savepoint(conn, &write, &placed) {
            tracing::warn!(seq = record.seq, %error, "a write of the store's log failed when applied again; left out");
        }
    }
    if let Some(last) = records.last() {
        set_applied(conn, last.seq)?;
    }
    Ok(())
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
fn in_savepoint(conn: &Connection, write: &Write, placed: &Placed) -> Result<Written, StoreError> {
    run(conn, "SAVEPOINT one")?;
    let result = apply(conn, write, placed);
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
        (log, bodies): (Log, Arc<Bodies>),
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
            bodies,
            reclaim: None,
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
        batch: &[(Write, Reply)],
    ) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
        if self.progress.is_behind() {
            self.apply_lost_writes()?;
        }
        self.begin()?;
        run(&self.conn, "SAVEPOINT batch")?;
        let mut results = Vec::with_capacity(batch.len());
        for (write, _) in batch.iter() {
            match self.apply_logged(write, apply) {
                Ok(written) => results.push(Ok(written)),
                Err(_) => break,
            }
        }
        if results.len() < batch.len() {
            // A write failed: the batch again, each write in a savepoint of its own, so that
            // it fails alone. A savepoint per write costs a copy of every page it changes
            // that the transaction had changed before, so only this rare path pays for it.
            run(&self.conn, "ROLLBACK TO batch")?;
            self.log.discard();
            results = batch
                .iter()
                .map(|(write, _)| self.apply_logged(write, in_savepoint))
                .collect();
        }
        for ((write, _), result) in batch.iter().zip(&results) {
            if let (Write::Prune(expiry), Ok(Written::Rows(removed))) = (write, result)
                && *removed < PRUNE_BATCH
            {
                self.reclaim = Some(expiry.settled_before);
            }
        }
        let sync = batch.iter().any(|(write, _)| write.acknowledged());
        self.log
            .write(sync)
            .map_err(|e| StoreError::CommitFailed(format!("appending to the store's log: {e}")))?;
        run(&self.conn, "RELEASE batch")?;
        Ok(results)
    }

    /// Applies a write, building its log record: its bodies first, which SQLite names by where
    /// they are, then the write. A write that fails or writes nothing leaves no record.
    fn apply_logged(
        &mut self,
        write: &Write,
        how: fn(&Connection, &Write, &Placed) -> Result<Written, StoreError>,
    ) -> Result<Written, StoreError> {
        self.log.start_record();
        let placed = Placed::new(&mut self.log, write);
        let result = how(&self.conn, write, &placed);
        if result.as_ref().is_ok_and(logged) {
            self.log.finish_record(|out| {
                postcard::to_io(&(write, &placed), out).expect("a write encodes into memory");
            });
        } else {
            self.log.cancel_record();
        }
        result
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
    /// readers. When the log's segment is full, or after a prune, the commit is synced: SQLite
    /// then holds the log's records durably, and a new segment starts, and the segments it
    /// names no body in go.
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
        let reclaim = self.reclaim.take();
        let durable = new_segment || reclaim.is_some();
        let committed = (|| -> Result<(), StoreError> {
            // SQLite must not durably name a body before the log durably holds it.
            self.log
                .sync()
                .map_err(|e| StoreError::CommitFailed(format!("syncing the store's log: {e}")))?;
            if let Some(settled_before) = reclaim {
                self.move_old_bodies(settled_before);
            }
            set_applied(&self.conn, last)?;
            run(&self.conn, "COMMIT")?;
            if durable {
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
        if new_segment && let Err(error) = self.log.start_segment() {
            tracing::error!(%error, "could not start a new segment of the store's log");
        }
        if durable
            && let Err(error) = bodies::remove_unnamed_segments(&self.conn, &self.log, &self.bodies)
        {
            tracing::error!(%error, "could not remove old segments of the store's log");
        }
        self.progress.committed(last);
        crate::telemetry::store_sqlite_committed(started.elapsed());
        if self.caught_up_untold {
            tracing::info!("the store has caught up with its log");
            self.retry_failed = false;
            self.caught_up_untold = false;
            self.progress.catch_ups.send_modify(|count| *count += 1);
        }
    }

    /// Moves the bodies of old segments into SQLite, in the open transaction. A failure moves
    /// none: they stay in the log, read from there, and the next prune tries again.
    fn move_old_bodies(&self, settled_before: i64) {
        let open_segment = self.log.open_segment();
        let moved = (|| -> Result<usize, StoreError> {
            run(&self.conn, "SAVEPOINT move_bodies")?;
            let moved = bodies::move_old_into_sqlite(
                &self.conn,
                &self.bodies,
                open_segment,
                settled_before,
            );
            if moved.is_err() {
                run(&self.conn, "ROLLBACK TO move_bodies")?;
            }
            run(&self.conn, "RELEASE move_bodies")?;
            moved
        })();
        match moved {
            Ok(0) => {}
            Ok(bodies) => tracing::info!(
                bodies,
                "bodies outliving the retention of settled events moved from the store's log into SQLite"
            ),
            Err(error) => {
                tracing::warn!(%error, "bodies of old segments of the store's log cannot move into SQLite now")
            }
        }
    }
}

/// Runs a statement without parameters from the statement cache: the savepoints around every
/// write would otherwise be parsed anew each time: over half of the writer's time under load.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn apply(conn: &Connection, write: &Write, placed: &Placed) -> Result<Written, StoreError> {
    let done = |result: Result<(), StoreError>| result.map(|()| Written::Done);
    match write {
        Write::InsertEvent { event, dedup, status, messages } => {
            let (Some(body), Some(request)) = (placed.event, placed.request) else {
                return Err(StoreError::Corrupt(format!(
                    "event {} without its body or request",
                    event.id
                )));
            };
            let inserted = insert_event(conn, event, (body, request), dedup, *status)?;
            if inserted == Written::Done {
                insert_messages(conn, messages, &placed.messages)?;
            }
            Ok(inserted)
        }
        Write::FinishEvent { event_id, messages } => {
            done(finish_event(conn, event_id, messages, &placed.messages))
        }
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
        } => release_held(conn, event_id, route, messages, &placed.messages),
        Write::DisableSubscriber { name, at, reason } => rows(conn.execute(
            "INSERT OR IGNORE INTO disabled_subscribers (name, disabled_at, reason) VALUES (?1, ?2, ?3)",
            params![name, at, reason],
        )),
        Write::EnableSubscriber { name } => {
            rows(conn.execute("DELETE FROM disabled_subscribers WHERE name = ?1", params![name]))
        }
        Write::Prune(expiry) => prune(conn, expiry),
        Write::OpenCircuit { subscriber, circuit } => rows(
            conn.prepare_cached(
                "INSERT OR REPLACE INTO circuits
                     (subscriber, opened_at, probe_at, probe_interval_ms, probes, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                subscriber,
                circuit.opened_at,
                circuit.probe_at,
                circuit.probe_interval_ms,
                circuit.probes,
                circuit.reason
            ]),
        ),
        Write::RetryDeadOf { subscriber, now } => rows(
            conn.prepare_cached(
                "UPDATE messages SET status = 'pending', next_attempt_at = ?2
                 WHERE subscriber = ?1 AND status = 'dead' AND body_id IS NOT NULL",
            )?
            .execute(params![subscriber, now]),
        ),
        Write::CloseCircuit { subscriber } => rows(
            conn.prepare_cached("DELETE FROM circuits WHERE subscriber = ?1")?
                .execute(params![subscriber]),
        ),
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
    (body, request): (BodyAt, BodyAt),
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
    let body_id = bodies::insert(conn, body)?;
    let request_body_id = bodies::insert(conn, request)?;
    conn.prepare_cached(
        "INSERT INTO events (id, source, type, received_at, request, status, body_id,
                             request_body_id)
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7)",
    )?
    .execute(params![
        event.id,
        event.source,
        event.event_type,
        event.received_at,
        status.as_str(),
        body_id,
        request_body_id
    ])?;
    Ok(Written::Done)
}

/// Marks the event processed with its messages; nothing when it was processed already (a
/// second run of the pipeline on it, started from a stale read).
fn finish_event(
    conn: &Connection,
    event_id: &str,
    messages: &[NewMessage],
    bodies: &[MessageBody],
) -> Result<(), StoreError> {
    let received = conn
        .prepare_cached(
            "UPDATE events SET status = 'processed' WHERE id = ?1 AND status = 'received'",
        )?
        .execute(params![event_id])?;
    if received > 0 {
        insert_messages(conn, messages, bodies)?;
    }
    Ok(())
}

/// Inserts one event's messages, naming their bodies where [`bodies::place_messages`] put
/// them.
fn insert_messages(
    conn: &Connection,
    messages: &[NewMessage],
    bodies: &[MessageBody],
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (id, event_id, event_seq, route, subscriber, status, type, key,
                               headers, body_id, error, plugins, plugin_list, created_at,
                               next_attempt_at)
         VALUES (?1, ?2, (SELECT rowid FROM events WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                 ?10, ?11, ?12, ?13, ?14)",
    )?;
    if bodies.len() != messages.len() {
        return Err(StoreError::Corrupt(
            "messages and their bodies do not match".into(),
        ));
    }
    let mut event_body = None;
    let mut previous = None;
    let mut plugin_lists = PluginLists::default();
    for (message, body) in messages.iter().zip(bodies) {
        let due = (message.status == MessageStatus::Pending).then_some(message.created_at);
        let body_id = match *body {
            MessageBody::Unsent => None,
            MessageBody::Event => Some(match event_body {
                Some(id) => id,
                None => *event_body.insert(event_body_id(conn, &message.event_id)?),
            }),
            MessageBody::Previous => Some(previous.ok_or_else(|| {
                StoreError::Corrupt(format!("message {} shares a body before any", message.id))
            })?),
            MessageBody::At(at) => {
                let id = bodies::insert(conn, at)?;
                previous = Some(id);
                Some(id)
            }
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
            if message.plugins.is_empty() { "[]" } else { "" },
            plugin_lists.id_of(conn, &message.plugins)?,
            message.created_at,
            due,
        ])?;
    }
    Ok(())
}

/// The ids in `plugin_lists` of the lists an event's messages name, each looked up once: the
/// messages of one route name the same list.
#[derive(Default)]
struct PluginLists<'m> {
    last: Option<(&'m [String], i64)>,
}

impl<'m> PluginLists<'m> {
    /// `None` for a message no plugin shaped.
    fn id_of(
        &mut self,
        conn: &Connection,
        plugins: &'m [String],
    ) -> Result<Option<i64>, StoreError> {
        if plugins.is_empty() {
            return Ok(None);
        }
        if let Some((last, id)) = self.last
            && last == plugins
        {
            return Ok(Some(id));
        }
        let json = serde_json::to_string(plugins).expect("plugin list serialises");
        let known = conn
            .prepare_cached("SELECT id FROM plugin_lists WHERE plugins = ?1")?
            .query_row(params![json], |row| row.get(0))
            .optional()?;
        let id = match known {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO plugin_lists (plugins) VALUES (?1)")?
                    .execute(params![json])?;
                conn.last_insert_rowid()
            }
        };
        self.last = Some((plugins, id));
        Ok(Some(id))
    }
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
        AttemptOutcome::Probed => {
            conn.prepare_cached("UPDATE messages SET error = ?2 WHERE id = ?1")?
                .execute(params![message_id, attempt.error])?;
            return Ok(());
        }
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
            SELECT request_body_id FROM events WHERE id IN (SELECT id FROM temp.expired)
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
    bodies: &[MessageBody],
) -> Result<Written, StoreError> {
    let released = conn
        .prepare_cached(
            "DELETE FROM messages WHERE event_id = ?1 AND route = ?2 AND status = 'held'",
        )?
        .execute(params![event_id, route])?;
    if released > 0 {
        insert_messages(conn, messages, bodies)?;
    }
    Ok(Written::Rows(released))
}
