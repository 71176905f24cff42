//! The store's log: every write, appended in order and made durable before it is answered.
//!
//! SQLite writes every page a transaction changes whole, to its own log and again at the
//! checkpoint, across the ten or so trees an event's rows touch; committing it per batch of
//! writes cost 11 to 19 KB of disk writes per event. The log takes the durability instead: a
//! batch is a few appended records and one `fdatasync`, and SQLite commits what the writer
//! applied in one transaction every 100 ms (the writer's `COMMIT_INTERVAL`), recording the last
//! record it holds. At the next open, the records after that one are applied again.
//!
//! # On-disk layout
//! `<data_dir>/log/<first sequence number, 20 digits>.log`, segments of records:
//! `[payload length: u32 LE][crc32 of the rest: u32 LE][sequence number: u64 LE][payload]`.
//! A record cut short or failing its checksum ends the log: it was never answered, since a
//! write is answered only after the record is written (and synced, for an acknowledged one).
//! A segment is removed once SQLite holds all of its records durably.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};

/// Bytes of log after which the writer commits SQLite durably and starts a new segment: the
/// most a restart applies again.
pub const SEGMENT_BYTES: u64 = 8 << 20;

/// The largest record read back: a batch holds at most a few bodies of at most the ingest
/// limit each, far below this. A larger length is a torn or foreign header.
const MAX_RECORD: usize = 1 << 30;

const HEADER: usize = 16;

pub(super) struct Log {
    dir: PathBuf,
    /// Held while the log is open: two processes appending to one log would overwrite each
    /// other's records. The kernel drops it with the process, `kill -9` included.
    _lock: File,
    segment: File,
    /// Bytes in the open segment that are part of the log.
    len: u64,
    /// Records of the batch being built, not yet written.
    pending: Vec<u8>,
    /// The sequence number of the last record written; pending records follow it.
    last: u64,
    /// The sequence number of the last pending record.
    last_pending: u64,
}

/// A record read back from the log.
pub(super) struct Record {
    pub seq: u64,
    pub payload: Vec<u8>,
}

impl Log {
    /// Opens the log in `dir`, returning with it the records after `applied` (those SQLite does
    /// not hold) for the caller to apply, then [`Log::start_segment`] once they are durable.
    pub fn open(dir: &Path, applied: u64) -> io::Result<(Log, Vec<Record>)> {
        std::fs::create_dir_all(dir)?;
        let lock = lock(dir)?;
        let records = read_after(dir, applied)?;
        let last = records.last().map_or(applied, |r| r.seq.max(applied));
        let start = last + 1;
        let segment = create_segment(dir, start)?;
        let log = Log {
            dir: dir.to_owned(),
            _lock: lock,
            segment,
            len: 0,
            pending: Vec::new(),
            last,
            last_pending: last,
        };
        Ok((log, records))
    }

    /// The records after `applied`, read again from disk: what SQLite lost when a commit of
    /// its failed.
    pub fn read_after(&self, applied: u64) -> io::Result<Vec<Record>> {
        read_after(&self.dir, applied)
    }

    /// Adds a record to the batch; written by the next [`Log::write`]. Returns its number.
    pub fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> u64 {
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; HEADER]);
        let seq = self.last_pending + 1;
        self.pending[start + 8..start + HEADER].copy_from_slice(&seq.to_le_bytes());
        encode(&mut self.pending);
        // Bodies and plugin outputs are bounded (limits of ingest and of routes.toml) far below.
        let payload = u32::try_from(self.pending.len() - start - HEADER)
            .expect("a record of the store's log under 4 GiB");
        let crc = crc32fast::hash(&self.pending[start + 8..]);
        self.pending[start..start + 4].copy_from_slice(&payload.to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.last_pending = seq;
        seq
    }

    /// Appends the batch's records, synced to the disk when `sync` (someone is told they are
    /// durable). On an error nothing of the batch is in the log: a partly written batch is cut
    /// off again, so that later records do not follow a torn one.
    pub fn write(&mut self, sync: bool) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.segment.write_all(&self.pending).and_then(|()| {
            if sync {
                self.segment.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(error) = written {
            self.discard();
            let _ = self.segment.set_len(self.len);
            return Err(error);
        }
        self.len += self.pending.len() as u64;
        self.pending.clear();
        self.last = self.last_pending;
        Ok(())
    }

    /// Forgets the batch's records.
    pub fn discard(&mut self) {
        self.pending.clear();
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

    /// Starts a new segment and removes the others. Only once SQLite holds every record
    /// written so far durably (committed with `synchronous=FULL`).
    pub fn start_segment(&mut self) -> io::Result<()> {
        let start = self.last + 1;
        self.segment = create_segment(&self.dir, start)?;
        self.len = 0;
        for (first, path) in segments(&self.dir)? {
            if first < start {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
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

/// Every whole record after `applied`, in order. A segment's torn end is left out: the writer
/// starts a new segment when it starts, so nothing was written after a tear.
fn read_after(dir: &Path, applied: u64) -> io::Result<Vec<Record>> {
    let mut records = Vec::new();
    for (_, path) in segments(dir)? {
        let mut data = Vec::new();
        File::open(&path)?.read_to_end(&mut data)?;
        let (read, whole) = parse(&data, applied);
        records.extend(read);
        if !whole {
            tracing::warn!(segment = %path.display(), "a segment of the store's log ends in a torn record, never answered: it is left out");
        }
    }
    Ok(records)
}

/// The records of one segment after `applied`, and whether the segment ended on a whole one.
fn parse(mut data: &[u8], applied: u64) -> (Vec<Record>, bool) {
    let mut records = Vec::new();
    while !data.is_empty() {
        let Some(header) = data.get(..HEADER) else {
            return (records, false);
        };
        let length = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        if length > MAX_RECORD {
            return (records, false);
        }
        let Some(rest) = data.get(8..HEADER + length) else {
            return (records, false);
        };
        if crc32fast::hash(rest) != crc {
            return (records, false);
        }
        let seq = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
        if seq > applied {
            records.push(Record {
                seq,
                payload: rest[8..].to_vec(),
            });
        }
        data = &data[HEADER + length..];
    }
    (records, true)
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
    fn a_new_segment_removes_the_records_sqlite_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 0).unwrap();
        append(&mut log, &[b"one"], true);
        log.start_segment().unwrap();
        append(&mut log, &[b"two"], true);
        assert_eq!(segments(dir.path()).unwrap().len(), 1);
        assert_eq!(payloads(&log.read_after(0).unwrap()), [&b"two"[..]]);
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
