namespace MessagingPatterns.PostgreSql;

/// <summary>
/// The store's statements for one schema. The schema is the only identifier in them (allow-listed and quoted);
/// every value, the queue's name included, is a positional parameter.
/// </summary>
/// <remarks>
/// "Now" is <c>coalesce($n::timestamptz, now())</c>: the server's clock unless the store's
/// <see cref="PostgreSqlClock"/> sends a time. A lease is held while its token matches and its end
/// (<c>visible_at</c>) is still ahead, so a settle with a stale token, or after the lease ended, changes nothing.
/// Batched statements take arrays and <c>unnest</c> them, so a whole cohort of settles is one statement.
/// </remarks>
internal sealed class QueueSql
{
    /// <summary>
    /// The token of a row released with a delay (or hidden after a failed read): never a lease's (those are
    /// non-zero), so no settle matches it, and the row waits in the <c>messages_due</c> index until it is due
    /// rather than in <c>messages_ready</c>, where receives would have to step over it.
    /// </summary>
    public const long Delayed = 0;

    public QueueSql(string schema)
    {
        var s = PostgreSqlSchema.Quote(schema);

        // $1 queue, $2 ids, $3 priorities, $4 headers, $5 bodies, $6 now. Rows are numbered in publish order.
        Insert = $"""
            INSERT INTO {s}.messages (queue, id, priority, headers, body, enqueued_at, visible_at)
            SELECT $1, u.id, u.priority, u.headers, u.body, t.now, t.now
            FROM unnest($2::text[], $3::smallint[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(id, priority, headers, body, ord),
                 (SELECT coalesce($6::timestamptz, now()) AS now) AS t
            ORDER BY u.ord
            """;

        // $1 channel, $2 payload (the queue's name). Delivered to listeners when the transaction commits.
        Notify = "SELECT pg_notify($1, $2)";

        // $1 queue, $2 now, $3 limit, $4 token, $5 lease. Two index-ordered looks, each skipping rows locked by
        // another receiver mid-statement: the ready rows (no token; messages_ready) in receive order, and the rows
        // whose lease ended or delay passed (a token; messages_due, only the due range), then the first $3 of both
        // in receive order. Neither look reads the leased or delayed rows that are not due, however many there are.
        Receive = $"""
            WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now),
            ready AS (
                SELECT m.seq, m.priority FROM {s}.messages AS m
                WHERE m.queue = $1 AND m.lease_token IS NULL AND m.visible_at <= (SELECT now FROM t)
                ORDER BY m.priority DESC, m.seq
                LIMIT $3
                FOR UPDATE SKIP LOCKED),
            due AS (
                SELECT m.seq, m.priority FROM {s}.messages AS m
                WHERE m.queue = $1 AND m.lease_token IS NOT NULL AND m.visible_at <= (SELECT now FROM t)
                ORDER BY m.priority DESC, m.seq
                LIMIT $3
                FOR UPDATE SKIP LOCKED),
            picked AS (
                SELECT c.seq FROM (SELECT seq, priority FROM ready UNION ALL SELECT seq, priority FROM due) AS c
                ORDER BY c.priority DESC, c.seq
                LIMIT $3)
            UPDATE {s}.messages AS m
            SET lease_token = $4, visible_at = (SELECT now FROM t) + $5::interval, delivery_count = m.delivery_count + 1
            FROM picked
            WHERE m.seq = picked.seq
            RETURNING m.seq, m.id, m.priority, m.headers, m.body, m.enqueued_at, m.delivery_count, m.visible_at, m.read_failures
            """;

        // $1 queue, $2 now: seconds until the next row becomes visible (negative if one already is), or null. Both
        // looks are index reads: the first ready row, and the earliest end of a lease or delay.
        NextVisible = $"""
            SELECT extract(epoch FROM least(
                (SELECT visible_at FROM {s}.messages WHERE queue = $1 AND lease_token IS NULL ORDER BY priority DESC, seq LIMIT 1),
                (SELECT min(visible_at) FROM {s}.messages WHERE queue = $1 AND lease_token IS NOT NULL))
                - coalesce($2::timestamptz, now()))::float8
            """;

        const string Held = "m.seq = u.seq AND m.lease_token = u.token AND m.visible_at > coalesce($3::timestamptz, now())";

        // $1 seqs, $2 tokens, $3 now. Returns the token with the row: a batch may name one row with a stale token and a held one.
        Ack = $"DELETE FROM {s}.messages AS m USING unnest($1::bigint[], $2::bigint[]) AS u(seq, token) WHERE {Held} RETURNING m.seq, m.lease_token";

        // $1 seqs, $2 tokens, $3 now, $4 delays. A delayed row keeps a token (Delayed, never issued) until it is due.
        Release = $"""
            UPDATE {s}.messages AS m
            SET lease_token = CASE WHEN u.span > interval '0' THEN {Delayed} END, visible_at = coalesce($3::timestamptz, now()) + u.span
            FROM unnest($1::bigint[], $2::bigint[], $4::interval[]) AS u(seq, token, span)
            WHERE {Held} RETURNING m.seq
            """;

        // $1 seqs, $2 token, $3 now. Takes back a lease as if it had never been taken (its count undone): a receive
        // cancelled while its lease statement ran leases nothing.
        Unlease = $"""
            UPDATE {s}.messages AS m SET lease_token = NULL, visible_at = coalesce($3::timestamptz, now()), delivery_count = m.delivery_count - 1
            FROM unnest($1::bigint[]) AS u(seq)
            WHERE m.seq = u.seq AND m.lease_token = $2 AND m.visible_at > coalesce($3::timestamptz, now())
            """;

        // $1 seq, $2 token, $3 now. A body this reader could not deserialize: hidden until its lease ends, as if a
        // reader had failed it, with the failed read counted instead of the delivery.
        HideUnreadable = $"""
            UPDATE {s}.messages AS m SET lease_token = {Delayed}, read_failures = m.read_failures + 1, delivery_count = m.delivery_count - 1
            WHERE m.seq = $1 AND m.lease_token = $2 AND m.visible_at > coalesce($3::timestamptz, now())
            """;

        // $1 seqs, $2 tokens, $3 now, $4 new lease durations.
        Renew = $"""
            UPDATE {s}.messages AS m SET visible_at = coalesce($3::timestamptz, now()) + u.span
            FROM unnest($1::bigint[], $2::bigint[], $4::interval[]) AS u(seq, token, span)
            WHERE {Held} RETURNING m.seq
            """;

        // $1 seqs, $2 tokens, $3 now, $4 reasons. Moved in one statement: never in both tables, nor in neither.
        DeadLetter = $"""
            WITH moved AS (
                DELETE FROM {s}.messages AS m USING unnest($1::bigint[], $2::bigint[], $4::text[]) AS u(seq, token, reason)
                WHERE {Held}
                RETURNING m.seq, m.queue, m.id, m.priority, m.headers, m.body, m.enqueued_at, m.delivery_count, u.reason),
            kept AS (
                INSERT INTO {s}.dead_letters (queue, id, priority, headers, body, enqueued_at, delivery_count, reason, dead_lettered_at)
                SELECT queue, id, priority, headers, body, enqueued_at, delivery_count, reason, coalesce($3::timestamptz, now())
                FROM moved ORDER BY seq)
            SELECT seq FROM moved
            """;

        // $1 queue, $2 now.
        Statistics = $"""
            SELECT count(m.seq) FILTER (WHERE m.visible_at <= t.now),
                   count(m.seq) FILTER (WHERE coalesce(m.lease_token, {Delayed}) = {Delayed} AND m.visible_at > t.now),
                   count(m.seq) FILTER (WHERE m.lease_token <> {Delayed} AND m.visible_at > t.now),
                   (SELECT count(*) FROM {s}.dead_letters WHERE queue = $1),
                   t.now - min(m.enqueued_at) FILTER (WHERE m.visible_at <= t.now)
            FROM (SELECT coalesce($2::timestamptz, now()) AS now) AS t
            LEFT JOIN {s}.messages AS m ON m.queue = $1
            GROUP BY t.now
            """;
    }

    public string Insert { get; }

    public string Notify { get; }

    public string Receive { get; }

    public string NextVisible { get; }

    public string Ack { get; }

    public string Release { get; }

    public string Renew { get; }

    public string Unlease { get; }

    public string HideUnreadable { get; }

    public string DeadLetter { get; }

    public string Statistics { get; }
}
