//! Held messages: the events a route keeps while a plugin of it has no version that loads.
//!
//! The pipeline commits one `held` message per subscriber of such a route, beside the messages
//! of the event's other routes, so those go out at once. Once the plugins load, each held
//! (event, route) is run again and its held messages are replaced, in one transaction, by what
//! the route made of the event.

use rusqlite::params;

use super::read::{EVENT_COLUMNS, new_event, raw_event};
use super::writer::{Write, Written};
use super::{NewEvent, NewMessage, Store, StoreError};

impl Store {
    /// Up to `limit` events that `route` holds, oldest first.
    pub async fn held_events(
        &self,
        route: String,
        limit: usize,
    ) -> Result<Vec<NewEvent>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id IN
                   (SELECT event_id FROM messages WHERE status = 'held' AND route = ?1)
                 ORDER BY rowid LIMIT ?2"
            );
            let mut query = conn.prepare_cached(&sql)?;
            let rows = query.query_map(params![route, limit as i64], raw_event)?;
            rows.map(|row| new_event(row?)).collect()
        })
        .await
    }

    /// Replaces the messages `route` held for an event by `messages`, atomically. False, with
    /// nothing written, when it held none (already released).
    pub async fn release_held(
        &self,
        event_id: String,
        route: String,
        messages: Vec<NewMessage>,
    ) -> Result<bool, StoreError> {
        let write = Write::ReleaseHeld {
            event_id,
            route,
            messages,
        };
        Ok(self.write(write).await? != Written::Rows(0))
    }
}
