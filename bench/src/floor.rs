//! The floor of durable storage: what the same durable work as a routed event costs in the
//! least a program can do, an append to one file and an `fdatasync` per commit, counted as
//! the router's writes are (`write_bytes` of `/proc/self/io`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use crate::process::write_bytes;

/// One routed event's records: the 1,700-byte body, its request's metadata, its message and
/// its attempt.
const RECORD: usize = 1700 + 600 + 150 + 80;

/// Events per commit: one at a time, and what the router reaches at a moderate rate and
/// overloaded (see `plain`), and beyond.
const EVENTS_PER_COMMIT: [f64; 4] = [1.0, 2.0, 3.3, 10.0];

pub fn run(events: u64) -> anyhow::Result<()> {
    println!("\n== floor: {RECORD} bytes appended per event to one file, fdatasync per commit");
    println!("{:>18} {:>14}", "events per commit", "written/event");
    for per_commit in EVENTS_PER_COMMIT {
        let written = append(events, per_commit)?;
        println!(
            "{per_commit:>18} {:>11.1} KB",
            written as f64 / events as f64 / 1000.0
        );
    }
    Ok(())
}

/// Bytes this process wrote appending `events` records, `per_commit` to an `fdatasync`.
fn append(events: u64, per_commit: f64) -> anyhow::Result<u64> {
    let dir = tempfile::tempdir()?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.path().join("log"))?;
    let record = vec![b'x'; RECORD];
    let pid = std::process::id();
    let before = write_bytes(pid);
    let mut waiting = 0.0;
    for _ in 0..events {
        log.write_all(&record)?;
        waiting += 1.0;
        if waiting >= per_commit {
            log.sync_data()?;
            waiting -= per_commit;
        }
    }
    log.sync_data()?;
    Ok(write_bytes(pid) - before)
}
