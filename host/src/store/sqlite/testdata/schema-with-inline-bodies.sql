-- The schema of stores made before bodies moved to their own table: what the migration in
-- `migrate` starts from.
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    type        TEXT,
    received_at INTEGER NOT NULL,
    -- JSON: {"method", "path", "query", "headers"} of the request that carried the event
    request     TEXT NOT NULL,
    body        BLOB NOT NULL,
    -- 'received' until the pipeline has committed its messages, then 'processed'
    status      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_unprocessed ON events (received_at) WHERE status = 'received';
CREATE INDEX IF NOT EXISTS events_by_time ON events (received_at);

CREATE TABLE IF NOT EXISTS messages (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    -- the event's rowid: acceptance order, which per-key ordering follows
    event_seq       INTEGER NOT NULL,
    route           TEXT NOT NULL,
    subscriber      TEXT NOT NULL,
    -- 'pending' | 'delivered' | 'dead' | 'filtered' | 'held' (its route waits for a plugin)
    status          TEXT NOT NULL,
    type            TEXT,
    key             TEXT,
    -- JSON object of the headers the message adds
    headers         TEXT NOT NULL,
    body            BLOB,
    error           TEXT,
    -- sha256 of every plugin that shaped this message, in order
    plugins         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (subscriber, next_attempt_at) WHERE status = 'pending';
-- Stores made before delivery looked up retries per subscriber had an index for it.
DROP INDEX IF EXISTS messages_pending_by_due;
CREATE INDEX IF NOT EXISTS messages_by_event ON messages (event_id);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages (status, created_at);
CREATE INDEX IF NOT EXISTS messages_pending_by_key ON messages (subscriber, key, event_seq)
    WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS attempts (
    message_id TEXT NOT NULL REFERENCES messages (id),
    at         INTEGER NOT NULL,
    status     INTEGER,
    latency_ms INTEGER NOT NULL,
    error      TEXT,
    response   BLOB
);
CREATE INDEX IF NOT EXISTS attempts_by_message ON attempts (message_id, at);

-- Provider delivery ids seen per source, to answer redeliveries without a new event.
CREATE TABLE IF NOT EXISTS dedup (
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;

-- Subscribers disabled by a `410 Gone` until an operator enables them again.
CREATE TABLE IF NOT EXISTS disabled_subscribers (
    name        TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    reason      TEXT NOT NULL
) WITHOUT ROWID;
