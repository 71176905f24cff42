//! What the admin API lists, a page at a time: the filters of a listing, and the SQL
//! conditions both stores build from them.
//!
//! Pages are cut by a cursor (the last id of the page before), not an offset: each page costs
//! the same however deep it is, and a page stays put while new events arrive above it.

use super::{EventStatus, MessageStatus};

/// Which events a listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub source: Option<String>,
    pub status: Option<EventStatus>,
    pub event_type: Option<String>,
    /// Received at or after, Unix milliseconds.
    pub since: Option<i64>,
    /// Received before, Unix milliseconds.
    pub until: Option<i64>,
    /// An event id, the id of one of its messages (what subscribers get as `webhook-id`), or
    /// the delivery id its provider gave it (while the source's dedup window keeps it).
    pub search: Option<String>,
    /// The sources whose delivery ids a search looks in: the configured ones. Delivery ids
    /// are kept by source first, so each source is one lookup, and an index of its own
    /// would cost every event a write.
    pub search_sources: Vec<String>,
    /// Only events accepted before this one: the previous page's `next`.
    pub before: Option<String>,
    pub limit: usize,
}

/// Which messages a listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub status: Option<MessageStatus>,
    pub subscriber: Option<String>,
    /// Only messages created before this one: the previous page's `next`.
    pub before: Option<String>,
    pub limit: usize,
}

/// One page of a listing; `next` is the cursor of the page after it, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Cuts the `limit + 1` rows a store read into a page: the extra row only tells that
    /// there is a next page.
    pub(super) fn cut(mut rows: Vec<T>, limit: usize, id: impl Fn(&T) -> &str) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more
            .then(|| rows.last().map(|row| id(row).to_owned()))
            .flatten();
        Page { items: rows, next }
    }
}

/// A value bound to a placeholder of a listing's SQL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    Text(String),
    Int(i64),
}

/// The `WHERE` of a listing: conditions joined by `AND`, and the values of their
/// placeholders in order.
#[derive(Debug, Default)]
pub(super) struct Conditions {
    clauses: Vec<String>,
    pub args: Vec<Arg>,
}

impl Conditions {
    /// Binds `arg` and writes `clause` with `{}` standing for its placeholder (`?N` or `$N`,
    /// as `mark` writes them): a value given once may be read several times.
    fn add(&mut self, clause: &str, arg: Arg, mark: fn(usize) -> String) {
        let placeholder = self.bind(arg, mark);
        self.clauses.push(clause.replace("{}", &placeholder));
    }

    /// Binds `arg`; its placeholder.
    fn bind(&mut self, arg: Arg, mark: fn(usize) -> String) -> String {
        self.args.push(arg);
        mark(self.args.len())
    }

    /// The text after `WHERE`.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "TRUE".to_owned()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

/// Where a store keeps acceptance order, and how its placeholders are written.
pub(super) struct Dialect {
    /// The column that orders events and messages by arrival: `rowid`, `seq`.
    pub seq: &'static str,
    pub mark: fn(usize) -> String,
}

impl EventQuery {
    pub(super) fn conditions(&self, dialect: &Dialect) -> Conditions {
        let (seq, mark) = (dialect.seq, dialect.mark);
        let mut conditions = Conditions::default();
        let text = |value: &String| Arg::Text(value.clone());
        if let Some(source) = &self.source {
            conditions.add("source = {}", text(source), mark);
        }
        if let Some(status) = self.status {
            conditions.add("status = {}", Arg::Text(status.as_str().to_owned()), mark);
        }
        if let Some(event_type) = &self.event_type {
            conditions.add("type = {}", text(event_type), mark);
        }
        if let Some(since) = self.since {
            conditions.add("received_at >= {}", Arg::Int(since), mark);
        }
        if let Some(until) = self.until {
            conditions.add("received_at < {}", Arg::Int(until), mark);
        }
        if let Some(search) = &self.search {
            let value = conditions.bind(text(search), mark);
            let mut clause = format!(
                "(id = {value} OR id IN (SELECT event_id FROM messages WHERE id = {value})"
            );
            if !self.search_sources.is_empty() {
                let sources: Vec<String> = (self.search_sources.iter())
                    .map(|source| conditions.bind(text(source), mark))
                    .collect();
                clause.push_str(&format!(
                    " OR id IN (SELECT event_id FROM dedup WHERE source IN ({}) AND key = {value})",
                    sources.join(", ")
                ));
            }
            conditions.clauses.push(clause + ")");
        }
        if let Some(before) = &self.before {
            let clause = format!("{seq} < (SELECT {seq} FROM events WHERE id = {{}})");
            conditions.add(&clause, text(before), mark);
        }
        conditions
    }
}

impl MessageQuery {
    /// `table` is how the listing's SQL names the messages table (`messages`, `m`).
    pub(super) fn conditions(&self, dialect: &Dialect, table: &str) -> Conditions {
        let (seq, mark) = (dialect.seq, dialect.mark);
        let mut conditions = Conditions::default();
        if let Some(status) = self.status {
            let clause = format!("{table}.status = {{}}");
            conditions.add(&clause, Arg::Text(status.as_str().to_owned()), mark);
        }
        if let Some(subscriber) = &self.subscriber {
            let clause = format!("{table}.subscriber = {{}}");
            conditions.add(&clause, Arg::Text(subscriber.clone()), mark);
        }
        if let Some(before) = &self.before {
            let clause = format!("{table}.{seq} < (SELECT {seq} FROM messages WHERE id = {{}})");
            conditions.add(&clause, Arg::Text(before.clone()), mark);
        }
        conditions
    }
}

/// A subscriber's queue: what waits for it and what gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberQueue {
    pub subscriber: String,
    pub pending: u64,
    /// When the oldest pending message was made, Unix milliseconds.
    pub oldest_pending_at: Option<i64>,
    pub dead: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBERED: Dialect = Dialect {
        seq: "seq",
        mark: |n| format!("${n}"),
    };

    #[test]
    fn a_value_is_bound_once_however_often_its_condition_reads_it() {
        let query = EventQuery {
            source: Some("github".into()),
            search: Some("evt_1".into()),
            search_sources: vec!["github".into(), "stripe".into()],
            before: Some("evt_9".into()),
            ..EventQuery::default()
        };
        let conditions = query.conditions(&NUMBERED);
        assert_eq!(
            conditions.sql(),
            "source = $1 AND (id = $2 OR id IN (SELECT event_id FROM messages WHERE id = $2) \
             OR id IN (SELECT event_id FROM dedup WHERE source IN ($3, $4) AND key = $2)) \
             AND seq < (SELECT seq FROM events WHERE id = $5)"
        );
        let text = |value: &str| Arg::Text(value.to_owned());
        assert_eq!(
            conditions.args,
            ["github", "evt_1", "github", "stripe", "evt_9"].map(text)
        );
        assert_eq!(EventQuery::default().conditions(&NUMBERED).sql(), "TRUE");
    }

    #[test]
    fn a_page_names_its_last_row_as_the_cursor_only_when_more_rows_follow() {
        let page = Page::cut(vec!["a", "b", "c"], 2, |row| row);
        assert_eq!((page.items, page.next), (vec!["a", "b"], Some("b".into())));
        let last = Page::cut(vec!["a", "b"], 2, |row| row);
        assert_eq!((last.items, last.next), (vec!["a", "b"], None));
    }
}
