using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// The dead-letter tooling's statements: browse, purge and redrive by <see cref="DeadLetterFilter"/>. The filter is
/// one fixed predicate whose parts are off when their parameter is NULL, so every value stays a parameter.
/// </summary>
internal sealed class DeadLetterSql
{
    // $1 queue, $2 ids, $3 reason substring, $4 enqueued from, $5 enqueued before, $6 dead-lettered from,
    // $7 dead-lettered before, $8 priority. strpos is ordinal and case-sensitive, as DeadLetterFilter.Matches is.
    private const string Filter = """
        d.queue = $1
        AND ($2::text[] IS NULL OR d.id = ANY($2))
        AND ($3::text IS NULL OR strpos(d.reason, $3) > 0)
        AND ($4::timestamptz IS NULL OR d.enqueued_at >= $4)
        AND ($5::timestamptz IS NULL OR d.enqueued_at < $5)
        AND ($6::timestamptz IS NULL OR d.dead_lettered_at >= $6)
        AND ($7::timestamptz IS NULL OR d.dead_lettered_at < $7)
        AND ($8::smallint IS NULL OR d.priority = $8)
        """;

    public DeadLetterSql(string schema)
    {
        var s = PostgreSqlSchema.Quote(schema);

        // $9 after (the continuation), $10 limit (one more than the page, to know whether more follow).
        Browse = $"""
            SELECT d.seq, d.id, d.priority, d.headers, d.body, d.reason, d.delivery_count, d.enqueued_at, d.dead_lettered_at
            FROM {s}.dead_letters AS d
            WHERE {Filter} AND d.seq > $9
            ORDER BY d.seq LIMIT $10
            """;

        Purge = $"DELETE FROM {s}.dead_letters AS d WHERE {Filter}";

        // $1 queue.
        LastSeq = $"SELECT coalesce(max(seq), 0) FROM {s}.dead_letters WHERE queue = $1";

        // $9 up to (the last entry when the redrive began), $10 batch size, $11 now. Moved in one statement:
        // never in both tables, nor in neither. Rows another redrive is moving are skipped, not waited for.
        Redrive = $"""
            WITH picked AS (
                SELECT d.seq FROM {s}.dead_letters AS d
                WHERE {Filter} AND d.seq <= $9
                ORDER BY d.seq LIMIT $10
                FOR UPDATE SKIP LOCKED),
            moved AS (
                DELETE FROM {s}.dead_letters AS d USING picked WHERE d.seq = picked.seq
                RETURNING d.seq, d.queue, d.id, d.priority, d.headers, d.body, d.enqueued_at),
            back AS (
                INSERT INTO {s}.messages (queue, id, priority, headers, body, enqueued_at, visible_at)
                SELECT queue, id, priority, headers, body, enqueued_at, coalesce($11::timestamptz, now()) FROM moved ORDER BY seq)
            SELECT count(*) FROM moved
            """;
    }

    public string Browse { get; }

    public string Purge { get; }

    public string LastSeq { get; }

    public string Redrive { get; }

    /// <summary>The filter's eight parameters, in order, after the queue's name.</summary>
    public static void AddFilter(NpgsqlParameterCollection parameters, string queue, DeadLetterFilter filter)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = queue });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = filter.MessageIds is { } ids ? ids.ToArray() : DBNull.Value });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)filter.ReasonContains ?? DBNull.Value });
        parameters.Add(Time(filter.EnqueuedFrom));
        parameters.Add(Time(filter.EnqueuedBefore));
        parameters.Add(Time(filter.DeadLetteredFrom));
        parameters.Add(Time(filter.DeadLetteredBefore));
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Smallint, Value = filter.Priority is { } priority ? (short)Math.Clamp(priority, short.MinValue, short.MaxValue) : DBNull.Value });
    }

    public static string Token(long seq) => seq.ToString(CultureInfo.InvariantCulture);

    /// <exception cref="ArgumentException">The token was not issued by this kind of store.</exception>
    public static long ParseToken(string? continuationToken)
    {
        if (continuationToken is null)
        {
            return 0;
        }

        if (!long.TryParse(continuationToken, NumberStyles.None, CultureInfo.InvariantCulture, out var after))
        {
            throw new ArgumentException("The continuation token was not issued by this store.", nameof(continuationToken));
        }

        return after;
    }

    private static NpgsqlParameter Time(DateTimeOffset? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = value is { } time ? time.ToUniversalTime() : DBNull.Value };
}
