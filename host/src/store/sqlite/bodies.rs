//! Where bodies live: in the store's log, written once, with SQLite naming where.
//!
//! A body is the bulk of what an event costs to store (a webhook's payload, a transform's
//! output), and it never changes. SQLite wrote each one whole three times: its log, its
//! checkpoint, and the store's log before them. Now the store's log alone holds it, in the
//! record of the write that stored it, and `bodies` holds where (`segment`, `at`, `len`).
//! Queries read it through the SQL function `log_body`, so they read a body the same way
//! wherever it is.
//!
//! A segment is kept while SQLite names a body in it or in an older segment. Bodies still
//! wanted once their segment is older than the retention of settled events (dead letters, a
//! backlog) move into SQLite (`data`), and the segment goes: the log holds about `retention`
//! of traffic, not more.

use std::sync::Arc;

use bytes::Bytes;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::NewMessage;
use super::StoreError;
use super::log::{Bodies, BodyAt, Log};

/// The SQL that reads the body a row names in `$column` (`body_id`, `request_body_id`),
/// wherever it is.
macro_rules! body_sql {
    ($column:literal) => {
        concat!(
            "(SELECT CASE WHEN b.segment IS NULL THEN b.data ELSE log_body(b.segment, b.at, b.len) END
          FROM bodies b WHERE b.id = ",
            $column,
            ")"
        )
    };
}
pub(super) use body_sql;

/// Where a message's body is, decided when its write is logged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) enum MessageBody {
    /// Never sent (filtered, dead in the pipeline, held): no body.
    Unsent,
    /// The event's own, unchanged.
    Event,
    /// The previous message's of the same write: one output sent to several subscribers.
    Previous,
    /// Its own, in the log.
    At(BodyAt),
}

/// Adds the messages' bodies to the log record being built, once each: a message passing its
/// event's body on names the event's, and the messages one output goes to (one allocation,
/// shared by consecutive messages, see `pipeline::messages`) share one. Telling them apart by
/// the allocation rather than by content keeps the cost per message constant, however many
/// messages and bytes a plugin returns.
pub(super) fn place_messages(log: &mut Log, messages: &[NewMessage]) -> Vec<MessageBody> {
    let mut previous: Option<&Bytes> = None;
    messages
        .iter()
        .map(|message| match &message.body {
            None => MessageBody::Unsent,
            Some(_) if message.body_is_event => MessageBody::Event,
            Some(body) if previous.is_some_and(|shared| same_allocation(shared, body)) => {
                MessageBody::Previous
            }
            Some(body) => {
                previous = Some(body);
                MessageBody::At(log.add_body(body))
            }
        })
        .collect()
}

fn same_allocation(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// Names a body of the log in `bodies`; returns its id.
pub(super) fn insert(conn: &Connection, at: BodyAt) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO bodies (data, segment, at, len) VALUES (X'', ?1, ?2, ?3)")?
        .execute(params![at.segment as i64, at.offset as i64, at.len])?;
    Ok(conn.last_insert_rowid())
}

/// Lets the connection's queries read bodies out of the log ([`body_sql`]).
pub(super) fn register(conn: &Connection, bodies: Arc<Bodies>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "log_body",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let at = BodyAt {
                segment: ctx.get::<i64>(0)? as u64,
                offset: ctx.get::<i64>(1)? as u64,
                len: ctx.get(2)?,
            };
            bodies
                .read(at)
                .map_err(|e| rusqlite::Error::UserFunctionError(body_unreadable(at, e).into()))
        },
    )
}

fn body_unreadable(at: BodyAt, error: std::io::Error) -> String {
    format!(
        "the body at {} of segment {} of the store's log cannot be read: {error}",
        at.offset, at.segment
    )
}

/// The most segments one prune empties into SQLite: bounds the time a prune holds the writer.
const SEGMENTS_PER_PRUNE: usize = 4;

/// Moves the bodies still named in segments last written before `settled_before` into
/// SQLite, oldest segment first, so that those segments can go: the events in them outlived
/// the retention of settled ones (dead letters, a backlog). Never the open segment. Returns
/// how many bodies moved.
pub(super) fn move_old_into_sqlite(
    conn: &Connection,
    bodies: &Bodies,
    open_segment: u64,
    settled_before: i64,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    for _ in 0..SEGMENTS_PER_PRUNE {
        let oldest: Option<i64> = conn
            .prepare_cached(
                "SELECT segment FROM bodies WHERE segment IS NOT NULL ORDER BY segment LIMIT 1",
            )?
            .query_row([], |row| row.get(0))
            .optional()?;
        let Some(segment) = oldest else { break };
        if segment as u64 >= open_segment {
            break;
        }
        let written_ms = bodies
            .written_at(segment as u64)
            .map_err(|e| StoreError::Corrupt(format!("segment {segment} of the store's log: {e}")))?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        if written_ms >= settled_before {
            break;
        }
        moved += conn
            .prepare_cached(
                "UPDATE bodies SET data = log_body(segment, at, len), segment = NULL, at = NULL,
                                   len = NULL
                 WHERE segment = ?1",
            )?
            .execute(params![segment])?;
    }
    Ok(moved)
}

/// Removes the log's segments older than the oldest one SQLite names a body in. Only right
/// after a durable commit, which holds every record written so far.
///
/// One indexed query, however many segments a long retention keeps: this runs at every new
/// segment. A segment emptied while an older one is still named stays until that one goes;
/// prunes and moves into SQLite take the oldest first, so such a gap closes as they go on.
pub(super) fn remove_unnamed_segments(
    conn: &Connection,
    log: &Log,
    bodies: &Bodies,
) -> Result<(), StoreError> {
    let oldest_named: Option<i64> = conn
        .prepare_cached("SELECT MIN(segment) FROM bodies WHERE segment IS NOT NULL")?
        .query_row([], |row| row.get(0))?;
    let removed = log
        .remove_segments(|segment| oldest_named.is_some_and(|oldest| segment as i64 >= oldest))
        .map_err(|e| {
            StoreError::CommitFailed(format!("removing segments of the store's log: {e}"))
        })?;
    for segment in removed {
        bodies.forget(segment);
    }
    Ok(())
}
