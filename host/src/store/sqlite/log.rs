//! The store's log: every write, appended in order and made durable before it is answered.
//!
//! SQLite writes every page a transaction changes whole, to its own log and again at the
//! checkpoint, across the ten or so trees an event's rows touch; committing it per batch of
//! writes cost 11 to 19 KB of disk writes per event. The log takes the durability instead: a
//! batch is a few appended records and one `fdatasync`, and SQLite commits what the writer
//! applied in one transaction every 100 ms (the writer's `COMMIT_INTERVAL`), recording the last
//! record it holds. At the next open, the records after that one are applied again.
//!
//! The log also keeps the bodies: a write's record carries the bodies it stores, and SQLite
//! keeps only where they are ([`BodyAt`]), so a body is written to the disk once rather than
//! three times (the log, SQLite's log, its checkpoint).
//!
//! # On-disk layout
//! `<data_dir>/log/<first sequence number, 20 digits>.log`, segments: [`SEGMENT_MAGIC`], then
//! records: `[length of the rest: u32 LE][crc32 of the rest: u32 LE][sequence number: u64 LE]
//! [bytes of bodies: u32 LE][bodies][payload]`.
//! A record cut short or failing its checksum ends the log: it was never answered, since a
//! write is answered only after the record is written (and synced, for an acknowledged one).
//! A segment is removed once SQLite holds all of its records durably and names none of its
//! bodies.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Bytes of log after which the writer commits SQLite durably and starts a new segment: the
/// most a restart applies again.
pub const SEGMENT_BYTES: u64 = 8 << 20;

/// The largest record read back: a batch holds at most a few bodies of at most the ingest
/// limit each, far below this. A larger length is a torn or foreign header.
const MAX_RECORD: usize = 1 << 30;

/// What a segment starts with: the layout of its records. Segments of the first layout,
/// without the bodies, start with a record.
const SEGMENT_MAGIC: &[u8; 8] = b"whlog3\r\n";

/// The magic of segments whose records are framed as today's but whose writes carry the
/// event's request inside rather than as a body: their bodies read the same, their writes
/// do not apply.
const SECOND_LAYOUT_MAGIC: &[u8; 8] = b"whlog2\r\n";

const HEADER: usize = 16;
/// The length of a record's bodies, after the header.
const BODIES_LENGTH: usize = 4;

pub(super) struct Log {
    dir: PathBuf,
    /// Held while the log is open: two processes appending to one log would overwrite each
    /// other's records. The kernel drops it with the process, `kill -9` included.
    _lock: File,
    segment: File,
    /// The sequence number the open segment is named by.
    first: u64,
    /// Bytes in the open segment that are part of the log, its magic included.
    len: u64,
    /// The open segment's magic is on disk. It is written with the first records, not when
    /// the segment is made: on a full disk an empty file can still be made, and the store
    /// still opens.
    magic_written: bool,
    /// Written since the last sync.
    unsynced: bool,
    /// Records of the batch being built, not yet written.
    pending: Vec<u8>,
    /// Where the record being built starts in `pending`.
    building: Option<usize>,
    /// The sequence number of the last record written; pending records follow it.
    last: u64,
    /// The sequence number of the last pending record.
    last_pending: u64,
}

/// A record read back from the log: its sequence number and its payload, bodies left out
/// (SQLite names them by where they are).
pub(super) struct Record {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Where a body is in the log: the segment (by its first sequence number), the offset of its
/// first byte in it, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BodyAt {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

impl Log {
    /// Opens the log in `dir`, returning with it the records after `applied` (those SQLite does
    /// not hold) for the caller to apply, then [`Log::start_segment`] once they are durable.
    pub fn open(dir: &Path, applied: u64) -> io::Result<(Log, Vec<Record>)> {
        std::fs::create_dir_all(dir)?;
        let lock = lock(dir)?;
        let (records, last_read) = read_after(dir, applied)?;
        let last = last_read.max(applied);
        let start = last + 1;
        let segment = create_segment(dir, start)?;
        let log = Log {
            dir: dir.to_owned(),
            _lock: lock,
            segment,
            first: start,
            len: SEGMENT_MAGIC.len() as u64,
            magic_written: false,
            unsynced: false,
            pending: Vec::new(),
            building: None,
            last,
            last_pending: last,
        };
        Ok((log, records))
    }

    /// The records after `applied`, read again from disk: what SQLite lost when a commit of
    /// its failed.
    pub fn read_after(&self, applied: u64) -> io::Result<Vec<Record>> {
        read_after(&self.dir, applied).map(|(records, _)| records)
    }

    /// Starts a record of the batch: its bodies ([`Log::add_body`]) come first, then its
    /// payload ([`Log::finish_record`]), or it is taken back ([`Log::cancel_record`]).
    pub fn start_record(&mut self) {
        assert!(
            self.building.is_none(),
            "one record of the store's log at a time"
        );
        self.building = Some(self.pending.len());
        self.pending.extend_from_slice(&[0; HEADER + BODIES_LENGTH]);
    }

    /// Adds a body to the record being built; returns where it will be once written.
    pub fn add_body(&mut self, body: &[u8]) -> BodyAt {
        assert!(self.building.is_some(), "a body belongs to a record");
        let at = BodyAt {
            segment: self.first,
            offset: self.len + self.pending.len() as u64,
            len: u32::try_from(body.len()).expect("a body under 4 GiB"),
        };
        self.pending.extend_from_slice(body);
        at
    }

    /// Ends the record being built with its payload; it is written by the next [`Log::write`].
    pub fn finish_record(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.building.take().expect("a record is being built");
        let bodies = self.pending.len() - start - HEADER - BODIES_LENGTH;
        encode(&mut self.pending);
        let seq = self.last_pending + 1;
        // Bodies and plugin outputs are bounded (limits of ingest and of routes.toml) far below.
        let length = u32::try_from(self.pending.len() - start - HEADER)
            .expect("a record of the store's log under 4 GiB");
        let bodies = u32::try_from(bodies).expect("bodies of one record under 4 GiB");
        let record = &mut self.pending[start..];
        record[8..16].copy_from_slice(&seq.to_le_bytes());
        record[16..20].copy_from_slice(&bodies.to_le_bytes());
        let crc = crc32fast::hash(&record[8..]);
        record[..4].copy_from_slice(&length.to_le_bytes());
        record[4..8].copy_from_slice(&crc.to_le_bytes());
        self.last_pending = seq;
    }

    /// Takes back the record being built, bodies and all.
    pub fn cancel_record(&mut self) {
        if let Some(start) = self.building.take() {
            self.pending.truncate(start);
        }
    }

    /// Adds a record without bodies to the batch.
    #[cfg(test)]
    pub fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.start_record();
        self.finish_record(encode)
    }

    /// Appends the batch's records, synced to the disk when `sync` (someone is told they are
    /// durable). On an error nothing of the batch is in the log: a partly written batch is cut
    /// off again, so that later records do not follow a torn one.
    pub fn write(&mut self, sync: bool) -> io::Result<()> {
        debug_assert!(self.building.is_none(), "a record is written whole");
        if self.pending.is_empty() {
            return Ok(());
        }
        // Written at their place rather than at the file's cursor: after a failed write cut
        // back, the next one must not leave a gap, which would end the log early.
        let magic = if self.magic_written {
            Ok(())
        } else {
            self.segment.write_all_at(SEGMENT_MAGIC, 0)
        };
        let written = magic
            .and_then(|()| self.segment.write_all_at(&self.pending, self.len))
            .and_then(|()| {
                if sync {
                    self.segment.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(error) = written {
            self.discard();
            let kept = if self.magic_written { self.len } else { 0 };
            let _ = self.segment.set_len(kept);
            return Err(error);
        }
        self.magic_written = true;
        self.len += self.pending.len() as u64;
        self.unsynced = !sync;
        self.pending.clear();
        self.last = self.last_pending;
        Ok(())
    }

    /// Syncs what was written without a sync: SQLite must not durably name a body before the
    /// log durably holds it.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.segment.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Forgets the batch's records.
    pub fn discard(&mut self) {
        self.pending.clear();
        self.building = None;
        self.last_pending = self.last;
    }

    /// The sequence number of the last record written.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Whether the open segment is due to be replaced by a new one.
    pub fn is_full(&self) -> bool {
        self.len >= SEGMENT_BYTES
    }

    /// Starts a new segment. Only once SQLite holds every record written so far durably
    /// (committed with `synchronous=FULL`): the writer does not sync what it writes to a
    /// segment it has left.
    pub fn start_segment(&mut self) -> io::Result<()> {
        self.sync()?;
        let start = self.last + 1;
        self.segment = create_segment(&self.dir, start)?;
        self.first = start;
        self.len = SEGMENT_MAGIC.len() as u64;
        self.magic_written = false;
        Ok(())
    }

    /// Removes the segments before the open one that `keep` does not keep (by their first
    /// sequence number): only once SQLite holds all their records durably, and durably names
    /// none of their bodies. Returns the segments removed.
    pub fn remove_segments(&self, mut keep: impl FnMut(u64) -> bool) -> io::Result<Vec<u64>> {
        let mut removed = Vec::new();
        for (first, path) in segments(&self.dir)? {
            if first < self.first && !keep(first) {
                std::fs::remove_file(path)?;
                removed.push(first);
            }
        }
        Ok(removed)
    }

    /// The sequence number the open segment is named by.
    pub fn open_segment(&self) -> u64 {
        self.first
    }
}

/// Reads bodies out of the log, for any number of threads: the readers' connections and the
/// writer's. Keeps the segments it read from open.
pub(super) struct Bodies {
    dir: PathBuf,
    open: Mutex<HashMap<u64, Arc<File>>>,
}

/// Segments kept open by [`Bodies`]; past this many, all are closed.
const OPEN_SEGMENTS: usize = 64;

impl Bodies {
    pub fn new(dir: &Path) -> Bodies {
        Bodies {
            dir: dir.to_owned(),
            open: Mutex::new(HashMap::new()),
        }
    }

    pub fn read(&self, at: BodyAt) -> io::Result<Vec<u8>> {
        let file = self.segment(at.segment)?;
        let mut body = vec![0; at.len as usize];
        file.read_exact_at(&mut body, at.offset)?;
        Ok(body)
    }

    /// When the segment was last written to.
    pub fn written_at(&self, segment: u64) -> io::Result<std::time::SystemTime> {
        std::fs::metadata(segment_path(&self.dir, segment))?.modified()
    }

    /// Closes a removed segment, whose space the disk gets back once no one holds it.
    pub fn forget(&self, segment: u64) {
        self.open.lock().expect("open segments").remove(&segment);
    }

    fn segment(&self, segment: u64) -> io::Result<Arc<File>> {
        let mut open = self.open.lock().expect("open segments");
        if let Some(file) = open.get(&segment) {
            return Ok(file.clone());
        }
        if open.len() >= OPEN_SEGMENTS {
            open.clear();
        }
        let file = Arc::new(File::open(segment_path(&self.dir, segment))?);
        open.insert(segment, file.clone());
        Ok(file)
    }
}

/// How long opening waits for another holder of the log to let go: the writer of a store just
/// closed in this process finishing its last commit.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Takes the log's lock, waiting up to [`LOCK_WAIT`].
fn lock(dir: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(
                    "another wasmhook process uses this data_dir (its log is locked)",
                ));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
    }
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

/// Creates the segment whose first record will be `first` (or opens it empty, left by a
/// crash before it held anything), and makes its name durable before anything is answered
/// from it.
fn create_segment(dir: &Path, first: u64) -> io::Result<File> {
    let path = segment_path(dir, first);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// The segments in `dir` by their first sequence number, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".log"))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(first) = first {
            found.push((first, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Every whole record after `applied`, in order, and the number of the last whole record
/// (0 for none). A segment's torn end is left out: the writer starts a new segment when it
/// starts, so nothing was written after a tear. Segments that end before `applied` (kept for
/// their bodies) are not read.
fn read_after(dir: &Path, applied: u64) -> io::Result<(Vec<Record>, u64)> {
    let segments = segments(dir)?;
    let mut records = Vec::new();
    let mut last = 0;
    for (index, (_, path)) in segments.iter().enumerate() {
        if segments
            .get(index + 1)
            .is_some_and(|(next, _)| *next <= applied + 1)
        {
            continue;
        }
        let mut data = Vec::new();
        File::open(path)?.read_to_end(&mut data)?;
        if let Some(data) = data.strip_prefix(SECOND_LAYOUT_MAGIC) {
            if !parse(data, applied).0.is_empty() {
                return Err(earlier_layout(path));
            }
            continue;
        }
        let Some(data) = data.strip_prefix(SEGMENT_MAGIC) else {
            refuse_first_layout(path, &data, applied)?;
            continue;
        };
        let (read, last_whole, whole) = parse(data, applied);
        records.extend(read);
        last = last.max(last_whole);
        if !whole {
            tracing::warn!(segment = %path.display(), "a segment of the store's log ends in a torn record, never answered: it is left out");
        }
    }
    Ok((records, last))
}

/// A segment without the magic: cut short before its magic was synced (nothing of it was
/// answered), or of the first layout, which this build cannot apply. Such a segment holding
/// records SQLite lacks fails the open, rather than its writes being dropped.
fn refuse_first_layout(path: &Path, mut data: &[u8], applied: u64) -> io::Result<()> {
    if data.len() <= SEGMENT_MAGIC.len() {
        return Ok(());
    }
    while let Some(record) = whole_record(data) {
        let seq = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
        if seq > applied {
            return Err(earlier_layout(path));
        }
        data = &data[8 + record.len()..];
    }
    Ok(())
}

fn earlier_layout(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} holds writes an earlier wasmhook logged and SQLite does not hold yet; start that version once to apply them (it applies them as it starts), then this one",
        path.display()
    ))
}

/// The records of one segment after `applied`, the number of its last whole one, and whether
/// the segment ended on a whole one.
fn parse(mut data: &[u8], applied: u64) -> (Vec<Record>, u64, bool) {
    let mut records = Vec::new();
    let mut last = 0;
    while !data.is_empty() {
        let Some(record) = whole_record(data) else {
            return (records, last, false);
        };
        let seq = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
        let bodies = u32::from_le_bytes(record[8..12].try_into().expect("4 bytes")) as usize;
        let Some(payload) = record.get(12 + bodies..) else {
            return (records, last, false);
        };
        if seq > applied {
            records.push(Record {
                seq,
                payload: payload.to_vec(),
            });
        }
        last = seq;
        data = &data[8 + record.len()..];
    }
    (records, last, true)
}

/// The first record of `data` after its length and checksum, if it is whole and intact.
fn whole_record(data: &[u8]) -> Option<&[u8]> {
    let header = data.get(..HEADER)?;
    let length = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    if !(BODIES_LENGTH..=MAX_RECORD).contains(&length) {
        return None;
    }
    let rest = data.get(8..HEADER + length)?;
    (crc32fast::hash(rest) == crc).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(log: &mut Log, payloads: &[&[u8]], sync: bool) {
        for payload in payloads {
            log.push(|out| out.extend_from_slice(payload));
        }
        log.write(sync).unwrap();
    }

    fn payloads(records: &[Record]) -> Vec<&[u8]> {
        records.iter().map(|r| r.payload.as_slice()).collect()
    }

    #[test]
    fn records_are_read_back_after_the_last_applied() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, records) = Log::open(dir.path(), 0).unwrap();
        assert!(records.is_empty());
        append(&mut log, &[b"one", b"two"], true);
        append(&mut log, &[b"three"], false);
        assert_eq!(log.last(), 3);
        drop(log);

        let (log, records) = Log::open(dir.path(), 1).unwrap();
        assert_eq!(payloads(&records), [&b"two"[..], b"three"]);
        assert_eq!(records[0].seq, 2);
        assert_eq!(log.last(), 3);
    }

    #[test]
    fn a_torn_record_ends_the_log_and_numbering_goes_on_after_the_last_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        append(&mut log, &[b"kept", b"torn"], true);
        drop(log);
        let (_, path) = segments(dir.path()).unwrap().remove(0);
        let data = std::fs::read(&path).unwrap();
        std::fs::write(&path, &data[..data.len() - 2]).unwrap();

        let (mut log, records) = Log::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&records), [&b"kept"[..]]);
        append(&mut log, &[b"next"], true);
        drop(log);
        let (_, records) = Log::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&records), [&b"kept"[..], b"next"]);
        assert_eq!(records[1].seq, 2);
    }

    #[test]
    fn segments_before_the_open_one_go_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        append(&mut log, &[b"one"], true);
        log.start_segment().unwrap();
        append(&mut log, &[b"two"], true);
        log.start_segment().unwrap();
        append(&mut log, &[b"three"], true);
        assert_eq!(log.remove_segments(|first| first == 2).unwrap(), [1]);
        assert_eq!(
            payloads(&log.read_after(0).unwrap()),
            [&b"two"[..], b"three"]
        );
        // Only the segments whose records may follow the last applied one are read.
        assert_eq!(payloads(&log.read_after(2).unwrap()), [&b"three"[..]]);
        assert_eq!(log.remove_segments(|_| false).unwrap(), [2]);
        assert_eq!(segments(dir.path()).unwrap().len(), 1);
    }

    /// A record of the first layout: no magic before it, no bodies in it.
    fn first_layout_record(seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut rest = seq.to_le_bytes().to_vec();
        rest.extend_from_slice(payload);
        let mut record = (payload.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(&crc32fast::hash(&rest).to_le_bytes());
        record.extend_from_slice(&rest);
        record
    }

    #[test]
    fn a_segment_of_the_first_layout_holding_unapplied_writes_fails_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = first_layout_record(1, b"applied");
        segment.extend(first_layout_record(2, b"not applied"));
        std::fs::write(segment_path(dir.path(), 1), &segment).unwrap();
        refused_until_applied(dir.path(), 1);
    }

    /// Opening a log whose writes after `applied` are of an earlier layout fails, naming the
    /// segment; once SQLite holds them, the log opens without them.
    fn refused_until_applied(dir: &Path, applied: u64) {
        let refused = Log::open(dir, applied).err().expect("refused");
        assert!(
            refused.to_string().contains("earlier wasmhook"),
            "{refused}"
        );
        let (log, records) = Log::open(dir, applied + 1).unwrap();
        assert!(records.is_empty());
        assert_eq!(log.last(), applied + 1);
    }

    #[test]
    fn a_segment_of_the_second_layout_holding_unapplied_writes_fails_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        log.start_record();
        let body = log.add_body(b"kept");
        log.finish_record(|out| out.extend_from_slice(b"applied"));
        log.write(true).unwrap();
        append(&mut log, &[b"not applied"], true);
        drop(log);
        let path = segment_path(dir.path(), 1);
        let mut data = std::fs::read(&path).unwrap();
        data[..SECOND_LAYOUT_MAGIC.len()].copy_from_slice(SECOND_LAYOUT_MAGIC);
        std::fs::write(&path, data).unwrap();
        refused_until_applied(dir.path(), 1);
        // Its bodies read as they did.
        assert_eq!(Bodies::new(dir.path()).read(body).unwrap(), b"kept");
    }

    #[test]
    fn a_body_is_read_back_where_its_record_put_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        append(&mut log, &[b"before"], true);
        log.start_record();
        let first = log.add_body(b"{\"n\": 1}");
        let second = log.add_body(b"");
        log.finish_record(|out| out.extend_from_slice(b"write"));
        log.start_record();
        log.add_body(b"taken back");
        log.cancel_record();
        log.write(true).unwrap();

        let bodies = Bodies::new(dir.path());
        assert_eq!(bodies.read(first).unwrap(), b"{\"n\": 1}");
        assert_eq!(bodies.read(second).unwrap(), b"");
        // The record reads back without its bodies; the one taken back left nothing.
        let records = log.read_after(1).unwrap();
        assert_eq!(payloads(&records), [&b"write"[..]]);
        assert_eq!(records[0].seq, 2);
        assert_eq!(log.last(), 2);
    }

    #[test]
    fn a_second_opener_of_a_log_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_log, _) = Log::open(dir.path(), 0).unwrap();
        let refused = Log::open(dir.path(), 0).err().expect("locked");
        assert!(
            refused.to_string().contains("another wasmhook"),
            "{refused}"
        );
    }

    #[test]
    fn a_discarded_batch_leaves_no_record_and_no_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        log.push(|out| out.extend_from_slice(b"dropped"));
        log.discard();
        append(&mut log, &[b"kept"], true);
        let records = log.read_after(0).unwrap();
        assert_eq!(payloads(&records), [&b"kept"[..]]);
        assert_eq!(records[0].seq, 1);
    }
}
