-- The MessagingPatterns.PostgreSql schema, for those who provision by hand (the store creates the same on first
-- use unless PostgreSqlStoreOptions.CreateSchema is off). For another schema name, replace "messaging" and set
-- PostgreSqlStoreOptions.Schema. Idempotent. The application's role then needs only SELECT, INSERT, UPDATE and
-- DELETE on both tables (and USAGE on the schema).

CREATE SCHEMA IF NOT EXISTS "messaging";

-- One row per message not yet acked. visible_at is when it may be received: its enqueue time, the end of
-- a release delay, or, while leased (lease_token set), the lease's end. An expired lease is therefore
-- ready again without any sweeper.
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
    delivery_count integer     NOT NULL DEFAULT 0
);

-- Receive order: higher priority first, then publish order.
CREATE INDEX IF NOT EXISTS messages_ready ON "messaging".messages (queue, priority DESC, seq);

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
