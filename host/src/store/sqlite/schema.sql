-- wasmhook's embedded store. Times are Unix milliseconds. Rowids follow acceptance (events)
-- and creation (messages): listings and prunes walk them, in place of time indexes that
-- every commit would have to write.
-- Event and message bodies, apart from the rows whose state changes: a change of state
-- rewrites a narrow row, not the body with it. Each body belongs to one event: its own, or
-- one its messages share (an unchanged body, a transform's output sent to several subscribers).
-- A body is in the store's log (`segment`, the byte `at` which it starts, `len`; `data` empty),
-- or in `data` (moved out of an old segment, or stored before bodies went to the log).
CREATE TABLE IF NOT EXISTS bodies (
    id      INTEGER PRIMARY KEY,
    data    BLOB NOT NULL,
    segment INTEGER,
    at      INTEGER,
    len     INTEGER
);

CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    type        TEXT,
    received_at INTEGER NOT NULL,
    -- JSON: {"method", "path", "query", "headers"} of the request that carried the event; ''
    -- when it is a body, `request_body_id` (events stored before requests were kept as bodies)
    request     TEXT NOT NULL,
    -- 'received' until the pipeline has committed its messages, then 'processed'
    status      TEXT NOT NULL,
    -- bodies.id; not a declared foreign key, which would have each body removed by a prune
    -- look for rows naming it
    body_id     INTEGER NOT NULL,
    -- bodies.id of the request's JSON, written once into the store's log like a body
    request_body_id INTEGER
);
CREATE INDEX IF NOT EXISTS events_unprocessed ON events (received_at) WHERE status = 'received';
DROP INDEX IF EXISTS events_by_time;

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
    error           TEXT,
    -- JSON array of the sha256 of every plugin that shaped this message, in order: '[]' for
    -- none, '' when `plugin_list` names the array (messages stored before hold it here)
    plugins         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    -- bodies.id of what is POSTed; NULL for a message never sent (filtered, dead in the
    -- pipeline, held)
    body_id         INTEGER,
    -- plugin_lists.id of the plugins that shaped this message
    plugin_list     INTEGER
);
-- Each list of plugin versions a message was shaped by, once: every message of a route names
-- the same list until one of its plugins is deployed again, and 64 hex digits a plugin in each
-- row were most of a message's row. Never pruned: a row a deploy.
CREATE TABLE IF NOT EXISTS plugin_lists (
    id      INTEGER PRIMARY KEY,
    plugins TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (subscriber, next_attempt_at) WHERE status = 'pending';
-- Stores made before delivery looked up retries per subscriber had an index for it.
DROP INDEX IF EXISTS messages_pending_by_due;
CREATE INDEX IF NOT EXISTS messages_by_event ON messages (event_id);
DROP INDEX IF EXISTS messages_by_status;
-- Dead letters by subscriber: what the admin API counts and lists; a row enters it once, when
-- its message dies.
CREATE INDEX IF NOT EXISTS messages_dead ON messages (subscriber) WHERE status = 'dead';
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

-- A row for each subscriber whose circuit is open: its messages wait while probes find out
-- whether it is back.
CREATE TABLE IF NOT EXISTS circuits (
    subscriber        TEXT PRIMARY KEY,
    opened_at         INTEGER NOT NULL,
    probe_at          INTEGER NOT NULL,
    probe_interval_ms INTEGER NOT NULL,
    probes            INTEGER NOT NULL,
    reason            TEXT NOT NULL
) WITHOUT ROWID;

-- The last record of the store's log (`log/`) this database holds; the records after it are
-- applied again when the store opens.
CREATE TABLE IF NOT EXISTS log_applied (seq INTEGER NOT NULL);
INSERT INTO log_applied (seq) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM log_applied);
