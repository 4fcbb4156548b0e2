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

        // $1 queue, $2 now, $3 limit, $4 token, $5 lease. Locked rows (another receiver's, mid-statement) are skipped.
        Receive = $"""
            WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now),
            picked AS (
                SELECT m.seq FROM {s}.messages AS m
                WHERE m.queue = $1 AND m.visible_at <= (SELECT now FROM t)
                ORDER BY m.priority DESC, m.seq
                LIMIT $3
                FOR UPDATE SKIP LOCKED)
            UPDATE {s}.messages AS m
            SET lease_token = $4, visible_at = (SELECT now FROM t) + $5::interval, delivery_count = m.delivery_count + 1
            FROM picked
            WHERE m.seq = picked.seq
            RETURNING m.seq, m.id, m.priority, m.headers, m.body, m.enqueued_at, m.delivery_count, m.visible_at
            """;

        // $1 queue, $2 now: seconds until the next row becomes visible (negative if one already is), or null.
        NextVisible = $"SELECT extract(epoch FROM min(visible_at) - coalesce($2::timestamptz, now()))::float8 FROM {s}.messages WHERE queue = $1";

        const string Held = "m.seq = u.seq AND m.lease_token = u.token AND m.visible_at > coalesce($3::timestamptz, now())";

        // $1 seqs, $2 tokens, $3 now.
        Ack = $"DELETE FROM {s}.messages AS m USING unnest($1::bigint[], $2::bigint[]) AS u(seq, token) WHERE {Held} RETURNING m.seq";

        // $1 seqs, $2 tokens, $3 now, $4 delays.
        Release = $"""
            UPDATE {s}.messages AS m SET lease_token = NULL, visible_at = coalesce($3::timestamptz, now()) + u.span
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
                   count(m.seq) FILTER (WHERE m.lease_token IS NULL AND m.visible_at > t.now),
                   count(m.seq) FILTER (WHERE m.lease_token IS NOT NULL AND m.visible_at > t.now),
                   (SELECT count(*) FROM {s}.dead_letters WHERE queue = $1)
            FROM (SELECT coalesce($2::timestamptz, now()) AS now) AS t
            LEFT JOIN {s}.messages AS m ON m.queue = $1
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

    public string DeadLetter { get; }

    public string Statistics { get; }
}
