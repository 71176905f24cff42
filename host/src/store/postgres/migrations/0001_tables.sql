-- wasmhook's shared store, version 1. Times are Unix milliseconds. `seq` columns follow
-- insertion: listings, prunes and per-key ordering walk them.

-- Every node that shares this database. A node's claims (`owner` of events and messages)
-- hold while its heartbeat is younger than its lease, by the database's clock.
CREATE TABLE nodes (
    -- the node's name and a suffix drawn at its start: each run of a node is a node of its own
    id            text PRIMARY KEY,
    name          text NOT NULL,
    address       text NOT NULL,
    started_at    bigint NOT NULL,
    heartbeat_at  bigint NOT NULL,
    lease_ms      bigint NOT NULL,
    routes_sha256 text NOT NULL,
    -- JSON object: plugin name → sha256 of the version it runs
    plugins       text NOT NULL,
    -- set by a clean stop, which gives its claims up at once
    stopped_at    bigint
);

CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          text PRIMARY KEY,
    source      text NOT NULL,
    type        text,
    received_at bigint NOT NULL,
    -- JSON: {"method", "path", "query", "headers"} of the request that carried the event
    request     text NOT NULL,
    -- 'received' until the pipeline has committed its messages, then 'processed'
    status      text NOT NULL,
    body        bytea NOT NULL,
    -- the node running the pipeline on a 'received' event
    owner       text
);
CREATE INDEX events_received ON events (seq) WHERE status = 'received';

CREATE TABLE messages (
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id              text PRIMARY KEY,
    event_id        text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- the event's seq: per-key ordering follows it
    event_seq       bigint NOT NULL,
    route           text NOT NULL,
    subscriber      text NOT NULL,
    -- 'pending' | 'delivered' | 'dead' | 'filtered' | 'held'
    status          text NOT NULL,
    type            text,
    key             text,
    -- JSON object of the headers the message adds
    headers         text NOT NULL,
    error           text,
    -- JSON array of the sha256 of every plugin that shaped the message
    plugins         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      bigint NOT NULL,
    next_attempt_at bigint,
    -- what is POSTed; NULL when it is the event's body (`body_is_event`) or never sent
    body            bytea,
    body_is_event   boolean NOT NULL DEFAULT false,
    -- the node delivering a 'pending' message
    owner           text
);
CREATE INDEX messages_due ON messages (subscriber, next_attempt_at) WHERE status = 'pending';
CREATE INDEX messages_by_event ON messages (event_id);
CREATE INDEX messages_pending_by_key ON messages (subscriber, key, event_seq) WHERE status = 'pending';
CREATE INDEX messages_held ON messages (subscriber, event_seq) WHERE status = 'held';
CREATE INDEX messages_dead ON messages (subscriber) WHERE status = 'dead';

CREATE TABLE attempts (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at         bigint NOT NULL,
    status     integer,
    latency_ms bigint NOT NULL,
    error      text,
    response   bytea,
    -- the name of the node that made it
    node       text NOT NULL
);
CREATE INDEX attempts_by_message ON attempts (message_id, seq);

-- Provider delivery ids seen per source, to answer redeliveries without a new event.
CREATE TABLE dedup (
    source      text NOT NULL,
    key         text NOT NULL,
    event_id    text NOT NULL,
    received_at bigint NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX dedup_by_time ON dedup (received_at);

-- Subscribers disabled by a `410 Gone` until an operator enables them again.
CREATE TABLE disabled_subscribers (
    name        text PRIMARY KEY,
    disabled_at bigint NOT NULL,
    reason      text NOT NULL
);

-- A row for each subscriber whose circuit is open.
CREATE TABLE circuits (
    subscriber        text PRIMARY KEY,
    opened_at         bigint NOT NULL,
    probe_at          bigint NOT NULL,
    probe_interval_ms bigint NOT NULL,
    probes            integer NOT NULL,
    reason            text NOT NULL
);
