//! The durable record of every event, message and delivery attempt.
//!
//! # What "acknowledged" means
//! An event is acknowledged to its sender (202) only after [`Store::insert_event`] returned,
//! which is after the write was appended to the store's log (`log.rs`) and synced to the disk
//! (`fdatasync`): it survives `kill -9` and power loss from that moment. The pipeline's
//! messages and delivery's attempts are appended without a sync of their own when no
//! acknowledged write shares their batch: they survive `kill -9` too, and a power loss can
//! take only the last of them, which are then redone (the event runs through the pipeline
//! again, the message is attempted again): delivery stays at least once, for one fsync per
//! batch of events instead of three.
//!
//! # The log and SQLite
//! The writer applies each write to SQLite at once, in a transaction it keeps open, and
//! commits that transaction every [`writer::COMMIT_INTERVAL`] (or at once when a reader
//! waits), recording the last log record it holds. A reader is shown every write answered
//! before it asked ([`Store::read`]). At the next open, the log's records after the last one
//! SQLite holds are applied again: a write answered is never lost with SQLite's open
//! transaction.
//!
//! # Invariants
//! - An event is `received` until the pipeline commits its messages *in the same transaction*
//!   that marks it `processed`. A crash in between leaves it `received`, and it is run through
//!   the pipeline again at the next start; so messages are never half-written. An event whose
//!   messages need no plugin is inserted `processed` with them, in one transaction.
//! - Bodies live apart from the rows whose state changes, in the store's log (`bodies.rs`),
//!   and each is stored once: a message passing its event's body on unchanged names the
//!   event's, the messages a transform's output goes to share one.
//! - A message is `pending` until an attempt ends it `delivered` or `dead`, or it was born
//!   `filtered`/`dead` in the pipeline, or `held` for a route waiting on a plugin (see
//!   `held.rs`), which replaces it by the route's messages once the plugin loads. Every HTTP
//!   attempt is a row in `attempts`, written in the same transaction as the message's new state.
//! - A write that fails (a full disk, an overloaded writer) is tried again after a growing
//!   pause ([`Backoff`]), never at once: a failed record of a delivered attempt is kept and
//!   recorded later rather than the message sent again, and a failed commit of the pipeline
//!   does not run the plugins again in a tight loop.
//! - There is exactly one writer: a thread that owns the write connection and takes whatever
//!   has queued up since its last batch as one batch (group commit), so concurrent ingests
//!   share one fsync. Readers use their own connections and never block it (WAL). One process
//!   holds the store: the log is locked while open.
//!
//! # On-disk layout
//! `<data_dir>/wasmhook.db` (+ `-wal`, `-shm`), schema in `schema.sql`, 1 KiB pages;
//! `<data_dir>/log/`, the store's log (see `log.rs`), which keeps the bodies (`bodies.rs`).
//!
//! # What a commit writes
//! SQLite writes every page a transaction changed, whole, to its own log, and a checkpoint
//! writes each again; a transaction changes a few small rows in each of several trees (the
//! event, its messages, their indexes). Committed per batch of writes, that cost 11 to 19 KB
//! per event; committed per interval, the pages shared by the batches of an interval are
//! written once, and a batch costs the bytes of its records in the store's log.

mod bodies;
mod held;
mod log;
mod read;
mod writer;

use crate::store::error::StoreError;
#[cfg(test)]
use crate::store::records::RequestMeta;
use crate::store::records::{
    Attempt, AttemptOutcome, Dedup, DueMessage, DueRead, EventStatus, Expiry, Inserted,
    MessageStatus, NewEvent, NewMessage, NodeState, OpenCircuit, PRUNE_BATCH,
};
use crate::store::views::NodeRecord;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use writer::{Progress, Queued, Write, Writer, Written};

/// The page size of a new store's file, in bytes.
const PAGE_SIZE: u32 = 1024;
/// Pages of log after which a commit checkpoints: 4 MiB.
const CHECKPOINT_PAGES: u32 = 4096;

/// How many writes may wait for the writer before ingest answers 503: a bound on memory held
/// by requests whose events are not yet on disk.
const WRITE_QUEUE: usize = 8192;

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writes: std::sync::mpsc::SyncSender<Queued>,
    progress: Arc<Progress>,
    readers: Arc<Readers>,
    /// This node, as its last heartbeat described it: the only one.
    node: Arc<Mutex<Option<NodeRecord>>>,
}

impl Store {
    /// Opens (or creates) the store in `data_dir` and starts its writer thread.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_committing_every(data_dir, writer::COMMIT_INTERVAL)
    }

    fn open_committing_every(
        data_dir: &Path,
        commit_interval: std::time::Duration,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|error| StoreError::CreateDir {
            path: data_dir.to_owned(),
            error,
        })?;
        let path = data_dir.join("wasmhook.db");
        let log_dir = data_dir.join("log");
        let log_bodies = Arc::new(log::Bodies::new(&log_dir));
        let conn = open_connection(&path, false, &log_bodies)?;
        conn.execute_batch(include_str!("schema.sql"))?;
        migrate(&conn)?;
        let (log, applied) = open_log(&conn, &log_dir, &log_bodies)?;
        let (writes, queue) = std::sync::mpsc::sync_channel(WRITE_QUEUE);
        let progress = Writer::spawn(
            conn,
            (log, log_bodies.clone()),
            applied,
            queue,
            commit_interval,
        );
        Ok(Store {
            writes,
            progress,
            readers: Arc::new(Readers {
                path,
                log_bodies,
                idle: Mutex::new(Vec::new()),
            }),
            node: Arc::new(Mutex::new(None)),
        })
    }

    /// Commits a new event, unless one of the `dedup` keys finds it is a redelivery or a
    /// replay. Returns once durable.
    /// `status` is `Received` for the pipeline to run it, or `Processed` for an event whose
    /// messages are known already (none where its source has no routes), committed with it:
    /// one write instead of two, and nothing for the pipeline to do.
    pub async fn insert_event(
        &self,
        event: Arc<NewEvent>,
        dedup: Vec<Dedup>,
        status: EventStatus,
        messages: Vec<NewMessage>,
    ) -> Result<Inserted, StoreError> {
        let write = Write::InsertEvent {
            event,
            dedup,
            status,
            messages,
        };
        Ok(match self.write(write).await? {
            Written::Duplicate(first) => Inserted::Duplicate(first),
            _ => Inserted::New,
        })
    }

    /// Commits the pipeline's messages for an event and marks it processed, atomically.
    pub async fn finish_event(
        &self,
        event_id: String,
        messages: Vec<NewMessage>,
    ) -> Result<(), StoreError> {
        self.write(Write::FinishEvent { event_id, messages })
            .await
            .map(drop)
    }

    /// Records one delivery attempt and the message state it leads to.
    pub async fn record_attempt(
        &self,
        message_id: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        self.write(Write::RecordAttempt {
            message_id,
            attempt,
            outcome,
        })
        .await
        .map(drop)
    }

    /// Makes a dead message pending again, due now. False if it is not a dead, sendable message.
    pub async fn retry_message(&self, message_id: String) -> Result<bool, StoreError> {
        let now = crate::clock::now_ms();
        Ok(self.write(Write::RetryMessage { message_id, now }).await? == Written::Rows(1))
    }

    /// Makes every dead message of `subscriber` that has a body pending, due now; how many.
    pub async fn retry_dead_of(&self, subscriber: String) -> Result<usize, StoreError> {
        let now = crate::clock::now_ms();
        match self.write(Write::RetryDeadOf { subscriber, now }).await? {
            Written::Rows(retried) => Ok(retried),
            _ => Ok(0),
        }
    }

    /// Marks an event `received` again so the pipeline runs it anew. False if there is no such event.
    pub async fn mark_for_replay(&self, event_id: String) -> Result<bool, StoreError> {
        Ok(self.write(Write::ReplayEvent { event_id }).await? == Written::Rows(1))
    }

    pub async fn disable_subscriber(&self, name: String, reason: String) -> Result<(), StoreError> {
        let at = crate::clock::now_ms();
        self.write(Write::DisableSubscriber { name, at, reason })
            .await
            .map(drop)
    }

    /// False if the subscriber was not disabled.
    pub async fn enable_subscriber(&self, name: String) -> Result<bool, StoreError> {
        Ok(self.write(Write::EnableSubscriber { name }).await? == Written::Rows(1))
    }

    /// Records that the subscriber's circuit is open (or was probed again).
    pub async fn open_circuit(
        &self,
        subscriber: String,
        circuit: OpenCircuit,
    ) -> Result<(), StoreError> {
        self.write(Write::OpenCircuit {
            subscriber,
            circuit,
        })
        .await
        .map(drop)
    }

    pub async fn close_circuit(&self, subscriber: String) -> Result<(), StoreError> {
        self.write(Write::CloseCircuit { subscriber })
            .await
            .map(drop)
    }

    /// Removes up to [`PRUNE_BATCH`] expired events (see `retention` in routes.toml) and
    /// forgets expired delivery ids; returns how many events.
    pub async fn prune(&self, expiry: Expiry) -> Result<usize, StoreError> {
        match self.write(Write::Prune(expiry)).await? {
            Written::Rows(removed) => Ok(removed),
            _ => Ok(0),
        }
    }

    /// Keeps what the node runs, for [`Store::nodes`].
    pub fn heartbeat(&self, state: &NodeState) {
        let now = crate::clock::rfc3339(crate::clock::now_ms());
        let mut node = self.node.lock().expect("node");
        let started_at = node.as_ref().map_or(now.clone(), |n| n.started_at.clone());
        *node = Some(NodeRecord {
            id: state.name.clone(),
            name: state.name.clone(),
            address: state.address.clone(),
            started_at,
            heartbeat_at: now,
            state: "live",
            routes_sha256: state.routes_sha256.clone(),
            plugins: state.plugins.clone(),
        });
    }

    /// The one node of an embedded store, once it has told what it runs.
    pub fn nodes(&self) -> Vec<NodeRecord> {
        self.node.lock().expect("node").iter().cloned().collect()
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (done, result) = oneshot::channel();
        self.writes
            .try_send(Queued::Write(write, done))
            .map_err(|_| StoreError::Unavailable)?;
        result.await.map_err(|_| StoreError::Unavailable)?
    }

    /// Changes whenever SQLite has got back writes it had lost and that readers could not
    /// see (a full disk at the start): the events accepted before are there to run again.
    /// Kept across waits, it misses none that came while its holder was busy.
    pub fn catch_ups(&self) -> tokio::sync::watch::Receiver<u64> {
        self.progress.catch_ups.subscribe()
    }

    /// Runs a read-only query on a pooled connection, off the async runtime, once every
    /// write answered before the call is visible to it.
    pub(crate) async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let (progress, writes) = (self.progress.clone(), self.writes.clone());
        tokio::task::spawn_blocking(move || {
            progress.wait_for_written(&writes)?;
            readers.with(query)
        })
        .await
        .map_err(|_| StoreError::Unavailable)?
    }
}

/// Read connections, opened on demand and kept for reuse.
struct Readers {
    path: PathBuf,
    log_bodies: Arc<log::Bodies>,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn with<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.idle.lock().expect("reader pool").pop();
        let conn = match conn {
            Some(conn) => conn,
            None => open_connection(&self.path, true, &self.log_bodies)?,
        };
        let result = snapshot(&conn, query);
        self.idle.lock().expect("reader pool").push(conn);
        result
    }
}

/// Runs `query` in one read transaction, so that a reader issuing several statements (an
/// event, then its messages, then their attempts) sees one committed state, never a message
/// from before an attempt beside the attempt itself.
fn snapshot<T>(
    conn: &Connection,
    query: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let transaction = conn.unchecked_transaction()?;
    let result = query(&transaction);
    transaction.finish()?;
    result
}

/// Opens the store's log and applies the records SQLite does not hold (written before a
/// crash or a power loss), committed durably; then a new segment starts. Returns the log and
/// the last record SQLite holds: when the records cannot be applied now (a full disk), the
/// writer applies them before it writes anything else.
fn open_log(
    conn: &Connection,
    dir: &Path,
    log_bodies: &log::Bodies,
) -> Result<(log::Log, u64), StoreError> {
    let log_error = |error| StoreError::Log {
        path: dir.to_owned(),
        error,
    };
    // In one transaction with what it applies: a writer of this store still finishing (a
    // store reopened at once) commits first, and nothing is applied twice.
    conn.execute_batch("PRAGMA synchronous = FULL; BEGIN IMMEDIATE")?;
    let opened = log::Log::open(dir, writer::applied(conn)?).map_err(log_error);
    let (mut log, records) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            conn.execute_batch("ROLLBACK; PRAGMA synchronous = NORMAL")?;
            return Err(error);
        }
    };
    let applied = (|| -> Result<(), StoreError> {
        if !records.is_empty() {
            tracing::info!(
                writes = records.len(),
                "applying the store's log after an unclean stop"
            );
            writer::apply_records(conn, &records)?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    })();
    if let Err(error) = applied {
        tracing::error!(%error, "the store's log cannot be applied now; the writer tries again until it can, and takes no write before");
        let _ = conn.execute_batch("ROLLBACK");
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        return Ok((log, writer::applied(conn)?));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    log.start_segment().map_err(log_error)?;
    bodies::remove_unnamed_segments(conn, &log, log_bodies)?;
    let last = log.last();
    Ok((log, last))
}

/// Brings a store made by an earlier version to the schema of `schema.sql`, whose
/// `CREATE ... IF NOT EXISTS` leave existing tables as they are.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let has_column = |table: &str, column: &str| -> Result<bool, StoreError> {
        let mut columns = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = columns.query_map([], |row| row.get::<_, String>(1))?;
        Ok(names
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .any(|n| n == column))
    };
    if has_column("events", "body")? {
        // Bodies move apart, to `bodies`, keeping their events' rowids as ids; the messages'
        // follow them, numbered after the events'. One transaction: a store is either moved
        // or as it was.
        tracing::info!("moving the store's bodies to a table of their own, once");
        let started = std::time::Instant::now();
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE events ADD COLUMN body_id INTEGER;
             ALTER TABLE messages ADD COLUMN body_id INTEGER;
             INSERT INTO bodies (id, data) SELECT rowid, body FROM events;
             UPDATE events SET body_id = rowid;
             CREATE TEMP TABLE last_event AS SELECT IFNULL(MAX(rowid), 0) AS id FROM events;
             INSERT INTO bodies (id, data)
                 SELECT (SELECT id FROM temp.last_event) + rowid, body FROM messages
                 WHERE body IS NOT NULL;
             UPDATE messages SET body_id = (SELECT id FROM temp.last_event) + rowid
                 WHERE body IS NOT NULL;
             DROP TABLE temp.last_event;
             ALTER TABLE events DROP COLUMN body;
             ALTER TABLE messages DROP COLUMN body;
             COMMIT;",
        )?;
        tracing::info!(elapsed = ?started.elapsed(), "the store's bodies were moved");
    }
    if !has_column("bodies", "segment")? {
        // Bodies stored before bodies went to the store's log stay in `data`.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE bodies ADD COLUMN segment INTEGER;
             ALTER TABLE bodies ADD COLUMN at INTEGER;
             ALTER TABLE bodies ADD COLUMN len INTEGER;
             COMMIT;",
        )?;
    }
    if !has_column("messages", "plugin_list")? {
        // Messages stored before plugin lists were kept once keep theirs in `plugins`.
        conn.execute_batch("ALTER TABLE messages ADD COLUMN plugin_list INTEGER")?;
    }
    if !has_column("events", "request_body_id")? {
        // Requests stored before they went to the store's log stay in `request`.
        conn.execute_batch("ALTER TABLE events ADD COLUMN request_body_id INTEGER")?;
    }
    // Which segments of the log SQLite names bodies in: the oldest, and whether one may go.
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS bodies_by_segment ON bodies (segment) WHERE segment IS NOT NULL",
    )?;
    Ok(())
}

fn open_connection(
    path: &Path,
    read_only: bool,
    log_bodies: &Arc<log::Bodies>,
) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|error| StoreError::Open {
        path: path.to_owned(),
        error,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Plans that do not depend on bound values. Without this, a statement whose LIMIT is a
    // parameter is compiled again every time that parameter is bound, as the due-message
    // query is on every dispatch.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Room for every statement the writer runs, savepoints included, and for the readers'.
    conn.set_prepared_statement_cache_capacity(64);
    if !read_only {
        // WAL lets readers run beside the writer.
        // Every commit writes each page it changed in full to the log, and the checkpoint
        // writes it again: small pages cost a commit, which changes a few rows in each of
        // several trees, a quarter of what 4 KiB pages do. Only a new store takes this; an
        // existing one keeps the page size it was made with.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A checkpoint writes every page changed since the last one once, however often it
        // changed: the hot pages (the tails of the indexes) are written once per 4 MiB of log
        // rather than once per 1 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)?;
        // The store's log makes writes durable; SQLite's commits need not be, but for the
        // one before a segment of the log is removed (see `writer`).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The writer's transaction spans many batches, and each batch sits in a savepoint: a
        // page the transaction changed already is copied to the statement journal before a
        // savepoint changes it again. In memory, that copy costs no system call.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
    }
    bodies::register(&conn, log_bodies.clone())?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use bytes::Bytes;

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn event(id: &str) -> Arc<NewEvent> {
        Arc::new(NewEvent {
            id: id.to_owned(),
            source: "github".to_owned(),
            event_type: Some("push".to_owned()),
            received_at: NOW,
            request: RequestMeta {
                method: "POST".to_owned(),
                path: "/hooks/github".to_owned(),
                query: BTreeMap::new(),
                headers: BTreeMap::new(),
            },
            body: Bytes::from_static(b"{}"),
        })
    }

    fn pending(id: &str, event_id: &str) -> NewMessage {
        NewMessage {
            id: id.to_owned(),
            event_id: event_id.to_owned(),
            route: "pushes".to_owned(),
            subscriber: "ci".to_owned(),
            status: MessageStatus::Pending,
            message_type: Some("push".to_owned()),
            key: None,
            headers: BTreeMap::new(),
            body: Some(Bytes::from_static(b"{\"n\":1}")),
            body_is_event: false,
            error: None,
            plugins: Vec::new(),
            created_at: NOW,
            claimed: false,
        }
    }

    fn attempt(status: u16) -> Attempt {
        Attempt {
            at: NOW,
            status: Some(status),
            latency_ms: 3,
            error: None,
            response: None,
        }
    }

    async fn due(store: &Store, at: i64) -> Vec<String> {
        let due = store.due_messages("ci".to_owned(), at, (10, 1 << 20), HashSet::new(), false);
        due.await
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    /// Commits the event `id` accepted, for the pipeline to run.
    async fn received(store: &Store, id: &str) -> Inserted {
        let insert = store.insert_event(event(id), Vec::new(), EventStatus::Received, Vec::new());
        insert.await.unwrap()
    }

    /// What a `kill -9` leaves: the files as they are, SQLite's open transaction lost.
    fn copy_files(from: &Path, to: &Path) {
        for entry in walk(from) {
            let target = to.join(entry.strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &target).unwrap();
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[tokio::test]
    async fn writes_answered_but_not_yet_committed_to_sqlite_survive_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let hour = std::time::Duration::from_secs(3600);
        let store = Store::open_committing_every(dir.path(), hour).unwrap();
        received(&store, "evt_1").await;
        store
            .finish_event("evt_1".to_owned(), vec![pending("msg_1", "evt_1")])
            .await
            .unwrap();
        let outcome = AttemptOutcome::RetryAt(NOW + 60_000);
        store
            .record_attempt("msg_1".to_owned(), attempt(503), outcome)
            .await
            .unwrap();
        received(&store, "evt_2").await;
        let passed_on = NewMessage {
            body: Some(event("evt_3").body.clone()),
            body_is_event: true,
            ..pending("msg_3", "evt_3")
        };
        let processed = EventStatus::Processed;
        let insert = store.insert_event(event("evt_3"), Vec::new(), processed, vec![passed_on]);
        insert.await.unwrap();

        let crashed = tempfile::tempdir().unwrap();
        copy_files(dir.path(), crashed.path());
        let direct = Connection::open(crashed.path().join("wasmhook.db")).unwrap();
        let in_sqlite: i64 = direct
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .unwrap();
        assert_eq!(in_sqlite, 0, "SQLite had not committed the writes yet");
        drop(direct);

        let reopened = Store::open(crashed.path()).unwrap();
        let unprocessed = reopened.unprocessed_events(10).await.unwrap();
        let ids: Vec<_> = unprocessed.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["evt_2"]);
        assert_eq!(
            unprocessed[0].request.path, "/hooks/github",
            "the request, read back from the log"
        );
        let message = reopened.message("msg_1".to_owned()).await.unwrap().unwrap();
        assert_eq!(message.status, "pending");
        let sent =
            reopened.due_messages("ci".to_owned(), NOW, (10, 1 << 20), HashSet::new(), false);
        let sent = sent.await.unwrap().messages;
        assert_eq!(sent.len(), 1, "the attempt moved msg_1 on");
        assert_eq!(
            (sent[0].id.as_str(), &sent[0].body),
            ("msg_3", &event("evt_3").body)
        );
        assert_eq!(due(&reopened, NOW + 60_000).await, ["msg_3", "msg_1"]);
        assert_eq!(received(&reopened, "evt_4").await, Inserted::New);
        drop(reopened);
        let again = Store::open(crashed.path()).unwrap();
        assert_eq!(again.unprocessed_events(10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone_and_stays_out_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let hour = std::time::Duration::from_secs(3600);
        let store = Store::open_committing_every(dir.path(), hour).unwrap();
        let insert =
            |id| store.insert_event(event(id), Vec::new(), EventStatus::Received, Vec::new());
        // Queued together, so that one batch usually takes all three.
        let (first, again, other) = tokio::join!(insert("evt_1"), insert("evt_1"), insert("evt_2"));
        assert_eq!(first.unwrap(), Inserted::New);
        assert!(again.is_err(), "the same id twice");
        assert_eq!(other.unwrap(), Inserted::New);

        let crashed = tempfile::tempdir().unwrap();
        copy_files(dir.path(), crashed.path());
        let reopened = Store::open(crashed.path()).unwrap();
        let ids: Vec<_> = reopened
            .unprocessed_events(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["evt_1", "evt_2"]);
    }

    async fn bodies_stored(store: &Store) -> i64 {
        let count = store.read(|conn| {
            let sql = "SELECT COUNT(*) FROM bodies
                       WHERE id NOT IN (SELECT request_body_id FROM events
                                        WHERE request_body_id IS NOT NULL)";
            Ok(conn.query_row(sql, [], |row| row.get::<_, i64>(0))?)
        });
        count.await.unwrap()
    }

    /// Every row of `bodies`: bodies and requests, named or not.
    async fn rows_of_bodies(store: &Store) -> i64 {
        let count = store
            .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM bodies", [], |row| row.get(0))?));
        count.await.unwrap()
    }

    /// A route without plugins passes the event's body on: the store keeps it once, and every
    /// reader (delivery, the admin API, a retry of a dead message) finds it through the event.
    #[tokio::test]
    async fn a_message_passing_the_event_body_on_is_stored_without_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let body = Bytes::from_static(br#"{"ref": "refs/heads/main"}"#);
        let event = Arc::new(NewEvent {
            body: body.clone(),
            ..(*event("evt_1")).clone()
        });
        let message = NewMessage {
            body: Some(body.clone()),
            body_is_event: true,
            ..pending("msg_1", "evt_1")
        };
        let insert = store.insert_event(event, Vec::new(), EventStatus::Processed, vec![message]);
        assert_eq!(insert.await.unwrap(), Inserted::New);

        let sent = store.due_messages("ci".to_owned(), NOW, (10, 1 << 20), HashSet::new(), false);
        assert_eq!(sent.await.unwrap().messages[0].body, body);
        let record = store.event("evt_1".to_owned()).await.unwrap().unwrap();
        assert_eq!(record.summary.status, "processed");
        assert_eq!(
            record.messages[0].body,
            serde_json::json!({"ref": "refs/heads/main"})
        );
        assert_eq!(bodies_stored(&store).await, 1);

        let dead = AttemptOutcome::Dead;
        store
            .record_attempt("msg_1".to_owned(), attempt(400), dead)
            .await
            .unwrap();
        assert!(store.retry_message("msg_1".to_owned()).await.unwrap());
        assert_eq!(due(&store, NOW + 1).await, ["msg_1"]);
    }

    /// Commits `evt_1` and `evt_2`, each with a pending message (`msg_1`, `msg_2`), and
    /// delivers one of the messages.
    async fn two_events_one_delivered(store: &Store, delivered: &str) {
        for id in ["evt_1", "evt_2"] {
            received(store, id).await;
            let message = pending(&id.replace("evt", "msg"), id);
            store
                .finish_event(id.to_owned(), vec![message])
                .await
                .unwrap();
        }
        let outcome = AttemptOutcome::Delivered;
        store
            .record_attempt(delivered.to_owned(), attempt(200), outcome)
            .await
            .unwrap();
    }

    /// Everything received before `at` has expired.
    fn expiry(at: i64) -> Expiry {
        Expiry {
            settled_before: at,
            dead_before: at,
            dedup_before: at,
        }
    }

    /// A prune takes an expired event with all of it (messages, attempts, bodies) and leaves
    /// an event whose message is still pending, however old.
    #[tokio::test]
    async fn a_prune_removes_an_expired_event_with_its_messages_attempts_and_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        two_events_one_delivered(&store, "msg_1").await;
        assert_eq!(bodies_stored(&store).await, 4);

        assert_eq!(store.prune(expiry(NOW + 1)).await.unwrap(), 1);
        assert!(store.event("evt_1".to_owned()).await.unwrap().is_none());
        assert!(store.event("evt_2".to_owned()).await.unwrap().is_some());
        assert_eq!(
            bodies_stored(&store).await,
            2,
            "the pending event's and its message's"
        );
        assert_eq!(
            rows_of_bodies(&store).await,
            3,
            "with the pending event's request: the expired one's went with its event"
        );
        let attempts = store.read(|conn| {
            let sql = "SELECT COUNT(*) FROM attempts";
            Ok(conn.query_row(sql, [], |row| row.get::<_, i64>(0))?)
        });
        assert_eq!(attempts.await.unwrap(), 0);
    }

    /// Bytes of bodies SQLite holds itself rather than naming them in the store's log.
    async fn bytes_in_sqlite(store: &Store) -> i64 {
        let count = store.read(|conn| {
            let sql = "SELECT IFNULL(SUM(length(data)), 0) FROM bodies";
            Ok(conn.query_row(sql, [], |row| row.get::<_, i64>(0))?)
        });
        count.await.unwrap()
    }

    fn segments_of_the_log(data_dir: &Path) -> usize {
        let segments = walk(&data_dir.join("log"));
        segments
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "log"))
            .count()
    }

    /// Bodies are written once, to the store's log. A segment stays while SQLite names a body
    /// in it; a prune removes the events of old segments and moves the bodies still wanted
    /// (a message still pending) into SQLite, and the segment goes.
    #[tokio::test]
    async fn bodies_outliving_their_segment_move_into_sqlite_and_the_segment_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        two_events_one_delivered(&store, "msg_2").await;
        assert_eq!(bodies_stored(&store).await, 4);
        assert_eq!(bytes_in_sqlite(&store).await, 0, "all in the log");
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            segments_of_the_log(dir.path()),
            2,
            "the segment naming the bodies, and a new one"
        );
        // After the events were received, and after the segment was last written.
        let later = NOW.max(crate::clock::now_ms()) + 1;
        assert_eq!(
            store.prune(expiry(later)).await.unwrap(),
            1,
            "evt_2, delivered"
        );
        let loaded = store.load_event("evt_1".to_owned()).await.unwrap().unwrap();
        assert_eq!(&loaded.body[..], b"{}");
        assert_eq!(loaded.request.path, "/hooks/github");
        assert_eq!(segments_of_the_log(dir.path()), 1, "the old segment went");
        let request = serde_json::to_vec(&event("evt_1").request).unwrap().len() as i64;
        assert_eq!(
            bytes_in_sqlite(&store).await,
            2 + request + 7,
            "evt_1's body and request, and msg_1's body"
        );
        let sent = store.due_messages("ci".to_owned(), NOW, (10, 1 << 20), HashSet::new(), false);
        assert_eq!(&sent.await.unwrap().messages[0].body[..], br#"{"n":1}"#);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(due(&store, NOW).await, ["msg_1"]);
    }

    #[test]
    fn an_error_shows_its_cause_once_in_a_chain() {
        let errors = [
            StoreError::Log {
                path: "/data/log".into(),
                error: std::io::Error::other("disk on fire"),
            },
            StoreError::CreateDir {
                path: "/data".into(),
                error: std::io::Error::other("disk on fire"),
            },
        ];
        for error in errors {
            let shown = format!("{:#}", anyhow::Error::from(error));
            assert_eq!(shown.matches("disk on fire").count(), 1, "{shown}");
        }
    }

    /// Messages shaped by the same plugin versions name one list of them, and each reads back
    /// its own.
    #[tokio::test]
    async fn messages_shaped_by_the_same_plugins_name_one_list_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let shaped = |id: &str, event_id: &str, plugins: &[&str]| NewMessage {
            plugins: plugins.iter().map(|p| p.to_string()).collect(),
            ..pending(id, event_id)
        };
        for (event_id, messages) in [
            (
                "evt_1",
                vec![
                    shaped("msg_1", "evt_1", &["a", "b"]),
                    shaped("msg_2", "evt_1", &["a", "b"]),
                ],
            ),
            (
                "evt_2",
                vec![
                    shaped("msg_3", "evt_2", &["a", "b"]),
                    shaped("msg_4", "evt_2", &["a", "c"]),
                    shaped("msg_5", "evt_2", &[]),
                ],
            ),
        ] {
            received(&store, event_id).await;
            store
                .finish_event(event_id.to_owned(), messages)
                .await
                .unwrap();
        }
        let lists = store.read(|conn| {
            Ok(
                conn.query_row("SELECT COUNT(*) FROM plugin_lists", [], |row| {
                    row.get::<_, i64>(0)
                })?,
            )
        });
        assert_eq!(lists.await.unwrap(), 2);
        for (id, plugins) in [
            ("msg_1", serde_json::json!(["a", "b"])),
            ("msg_3", serde_json::json!(["a", "b"])),
            ("msg_4", serde_json::json!(["a", "c"])),
            ("msg_5", serde_json::json!([])),
        ] {
            let message = store.message(id.to_owned()).await.unwrap().unwrap();
            assert_eq!(message.plugins, plugins, "{id}");
        }
    }

    /// A transform's output sent to several subscribers is one body.
    #[tokio::test]
    async fn messages_carrying_the_same_output_share_one_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        received(&store, "evt_1").await;
        let to = |id: &str, subscriber: &str| NewMessage {
            subscriber: subscriber.to_owned(),
            ..pending(id, "evt_1")
        };
        let messages = vec![to("msg_1", "ci"), to("msg_2", "chat")];
        store
            .finish_event("evt_1".to_owned(), messages)
            .await
            .unwrap();
        assert_eq!(bodies_stored(&store).await, 2, "the event's and the output");
        let record = store.event("evt_1".to_owned()).await.unwrap().unwrap();
        let bodies: Vec<_> = record.messages.iter().map(|m| m.body.clone()).collect();
        assert_eq!(
            bodies,
            [serde_json::json!({"n": 1}), serde_json::json!({"n": 1})]
        );
    }

    /// A store made before bodies moved apart opens with every event's and message's body
    /// where readers look for it.
    #[tokio::test]
    async fn a_store_with_bodies_inline_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("wasmhook.db")).unwrap();
        conn.execute_batch(include_str!("testdata/schema-with-inline-bodies.sql"))
            .unwrap();
        conn.execute_batch(
            r#"INSERT INTO events (id, source, type, received_at, request, body, status)
               VALUES ('evt_1', 'github', 'push', 1, '{"method":"POST","path":"/hooks/github","query":{},"headers":{}}', CAST('{"e":1}' AS BLOB), 'processed');
               INSERT INTO messages (id, event_id, event_seq, route, subscriber, status, headers, body, plugins, created_at, next_attempt_at)
               VALUES ('msg_1', 'evt_1', 1, 'pushes', 'ci', 'pending', '{}', CAST('{"m":1}' AS BLOB), '[]', 1, 1);"#,
        )
        .unwrap();
        drop(conn);

        let store = Store::open(dir.path()).unwrap();
        let event = store.load_event("evt_1".to_owned()).await.unwrap().unwrap();
        assert_eq!(&event.body[..], br#"{"e":1}"#);
        let due = store.due_messages("ci".to_owned(), 1, (10, 1 << 20), HashSet::new(), false);
        assert_eq!(&due.await.unwrap().messages[0].body[..], br#"{"m":1}"#);
        assert_eq!(bodies_stored(&store).await, 2);
        drop(store);
        // A second open finds nothing left to move.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(bodies_stored(&store).await, 2);
    }

    /// Commits the event `id` carrying a provider's delivery id (the same for every event),
    /// seen again within a minute.
    async fn with_delivery_id(store: &Store, id: &str) -> Inserted {
        let key = vec![Dedup {
            key: "github:delivery-1".to_owned(),
            window_ms: 60_000,
        }];
        let insert = store.insert_event(event(id), key, EventStatus::Received, Vec::new());
        insert.await.unwrap()
    }

    #[tokio::test]
    async fn a_redelivery_adds_nothing_to_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let log_bytes = || -> u64 {
            walk(&dir.path().join("log"))
                .iter()
                .map(|file| std::fs::metadata(file).unwrap().len())
                .sum()
        };
        with_delivery_id(&store, "evt_1").await;
        let after_first = log_bytes();
        assert!(after_first > 0);
        for n in 2..10 {
            assert_eq!(
                with_delivery_id(&store, &format!("evt_{n}")).await,
                Inserted::Duplicate("evt_1".to_owned())
            );
        }
        assert_eq!(log_bytes(), after_first);
    }
}
