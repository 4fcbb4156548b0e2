using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// The dead-letter tooling's statements: browse, purge and redrive with a <see cref="DeadLetterFilter"/>.
/// A filter's shape varies, so these are built per call (every value a parameter) rather than prepared once;
/// they run on the writer's thread inside its transaction, like every other operation.
/// </summary>
/// <remarks>
/// Entries are ordered and paged by <c>dseq</c>, which AUTOINCREMENT never reuses: a continuation token
/// (the last <c>dseq</c> shown) stays valid while entries are removed, and a redrive can stop at the entries
/// that existed when it began.
/// </remarks>
internal sealed class DeadLetterCommands(SqliteConnection connection, string name)
{
    private readonly string _queue = SqliteSchema.QueueTable(name);
    private readonly string _deadLetters = SqliteSchema.DeadLetterTable(name);

    /// <summary>Reads up to <paramref name="limit"/> matching entries after <paramref name="after"/>, oldest first.</summary>
    public List<DeadLetterRow> Browse(DeadLetterFilter filter, long after, int limit)
    {
        using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT dseq, id, priority, headers, body, reason, delivery_count, enqueued_at, dead_lettered_at FROM {_deadLetters} " +
            $"WHERE dseq > $after{Where(filter, command)} ORDER BY dseq LIMIT $limit";
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$limit", limit);
        var rows = new List<DeadLetterRow>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new DeadLetterRow(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetFieldValue<byte[]>(4),
                reader.GetString(5),
                reader.GetInt32(6),
                reader.GetInt64(7),
                reader.GetInt64(8)));
        }

        return rows;
    }

    /// <summary>Whether any matching entry follows <paramref name="after"/>.</summary>
    public bool AnyAfter(DeadLetterFilter filter, long after)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT EXISTS (SELECT 1 FROM {_deadLetters} WHERE dseq > $after{Where(filter, command)})";
        command.Parameters.AddWithValue("$after", after);
        return (long)command.ExecuteScalar()! != 0;
    }

    /// <summary>Deletes every matching entry; returns how many.</summary>
    public long Purge(DeadLetterFilter filter)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"DELETE FROM {_deadLetters} WHERE 1 = 1{Where(filter, command)}";
        return command.ExecuteNonQuery();
    }

    /// <summary>The newest entry's <c>dseq</c>, 0 when there is none.</summary>
    public long LastSeq()
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COALESCE(MAX(dseq), 0) FROM {_deadLetters}";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Moves up to <paramref name="limit"/> matching entries with <c>dseq</c> in (<paramref name="after"/>,
    /// <paramref name="upTo"/>] back to the queue, with a fresh delivery count, in the caller's transaction;
    /// returns how many moved, and in <paramref name="last"/> the <c>dseq</c> the next batch starts after.
    /// </summary>
    public int Redrive(DeadLetterFilter filter, long after, long upTo, int limit, long now, out long last)
    {
        var seqs = new List<long>(limit);
        using (var select = connection.CreateCommand())
        {
            select.CommandText =
                $"SELECT dseq FROM {_deadLetters} WHERE dseq > $after AND dseq <= $upTo{Where(filter, select)} ORDER BY dseq LIMIT $limit";
            select.Parameters.AddWithValue("$after", after);
            select.Parameters.AddWithValue("$upTo", upTo);
            select.Parameters.AddWithValue("$limit", limit);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                seqs.Add(reader.GetInt64(0));
            }
        }

        if (seqs.Count == 0)
        {
            last = upTo;
            return 0;
        }

        last = seqs[^1];
        var list = JsonSerializer.Serialize(seqs.ToArray(), HeadersJsonContext.Default.Int64Array);

        // Insert and delete in one transaction: an observer sees the message in exactly one table.
        using var insert = connection.CreateCommand();
        insert.CommandText =
            $"INSERT INTO {_queue} (id, priority, headers, body, enqueued_at, visible_at, delivery_count) " +
            $"SELECT id, priority, headers, body, enqueued_at, $now, 0 FROM {_deadLetters} WHERE dseq IN (SELECT value FROM json_each($seqs)) ORDER BY dseq";
        insert.Parameters.AddWithValue("$now", now);
        insert.Parameters.AddWithValue("$seqs", list);
        var moved = insert.ExecuteNonQuery();

        using var delete = connection.CreateCommand();
        delete.CommandText = $"DELETE FROM {_deadLetters} WHERE dseq IN (SELECT value FROM json_each($seqs))";
        delete.Parameters.AddWithValue("$seqs", list);
        delete.ExecuteNonQuery();
        return moved;
    }

    public static string Token(long seq) => seq.ToString(CultureInfo.InvariantCulture);

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

    /// <summary>The filter as " AND ..." terms, its values bound as parameters of <paramref name="command"/>.</summary>
    private static string Where(DeadLetterFilter filter, SqliteCommand command)
    {
        var sql = new StringBuilder();
        if (filter.MessageIds is { } ids)
        {
            sql.Append(" AND id IN (SELECT value FROM json_each($ids))");
            command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(ids.ToArray(), HeadersJsonContext.Default.StringArray));
        }

        if (filter.ReasonContains is { } reason)
        {
            // instr is ordinal and case-sensitive, as DeadLetterFilter.Matches is; LIKE would fold ASCII case.
            sql.Append(" AND instr(reason, $reason) > 0");
            command.Parameters.AddWithValue("$reason", reason);
        }

        Range(sql, command, "enqueued_at", ">=", "$enqueuedFrom", filter.EnqueuedFrom);
        Range(sql, command, "enqueued_at", "<", "$enqueuedBefore", filter.EnqueuedBefore);
        Range(sql, command, "dead_lettered_at", ">=", "$deadFrom", filter.DeadLetteredFrom);
        Range(sql, command, "dead_lettered_at", "<", "$deadBefore", filter.DeadLetteredBefore);
        if (filter.Priority is { } priority)
        {
            sql.Append(" AND priority = $priority");
            command.Parameters.AddWithValue("$priority", priority);
        }

        return sql.ToString();
    }

    private static void Range(StringBuilder sql, SqliteCommand command, string column, string op, string parameter, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {column} {op} {parameter}");
            command.Parameters.AddWithValue(parameter, time.UtcTicks);
        }
    }
}
