-- The MessagingPatterns.PostgreSql schema, for those who provision by hand (the store creates the same on first
-- use unless PostgreSqlStoreOptions.CreateSchema is off). For another schema name, replace "messaging" and set
-- PostgreSqlStoreOptions.Schema. Idempotent. The application's role then needs only SELECT, INSERT, UPDATE and
-- DELETE on both tables (and USAGE on the schema).

CREATE SCHEMA IF NOT EXISTS "messaging";

-- One row per message not yet acked. visible_at is when it may be received: its enqueue time, the end of
-- a release delay, or, while leased (lease_token set), the lease's end. An expired lease is therefore
-- ready again without any sweeper. A row released with a delay holds token 0 (never a lease's) until due.
CREATE TABLE IF NOT EXISTS "messaging".messages (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue          text        NOT NULL,
    id             text        NOT NULL,
    priority       smallint    NOT NULL,
    headers        text        NULL,
    body           bytea       NOT NULL,
    enqueued_at    timestamptz NOT NULL,
    visible_at     timestamptz NOT NULL,
    lease_token    bigint      NULL,
    delivery_count integer     NOT NULL DEFAULT 0,
    read_failures  integer     NOT NULL DEFAULT 0
);

-- How often this message's body failed to deserialize (added to tables created before it existed).
ALTER TABLE "messaging".messages ADD COLUMN IF NOT EXISTS read_failures integer NOT NULL DEFAULT 0;

-- Ready rows (no token) in receive order: higher priority first, then publish order.
CREATE INDEX IF NOT EXISTS messages_ready ON "messaging".messages (queue, priority DESC, seq) WHERE lease_token IS NULL;

-- Leased and delayed rows (a token) by when they are due, so receives and waits read only the due ones.
CREATE INDEX IF NOT EXISTS messages_due ON "messaging".messages (queue, visible_at) WHERE lease_token IS NOT NULL;

-- Messages taken out of their queue after their last attempt, with the reason.
CREATE TABLE IF NOT EXISTS "messaging".dead_letters (
    seq              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text        NOT NULL,
    id               text        NOT NULL,
    priority         smallint    NOT NULL,
    headers          text        NULL,
    body             bytea       NOT NULL,
    enqueued_at      timestamptz NOT NULL,
    delivery_count   integer     NOT NULL,
    reason           text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS dead_letters_queue ON "messaging".dead_letters (queue, seq);
CREATE INDEX IF NOT EXISTS dead_letters_id ON "messaging".dead_letters (queue, id);
