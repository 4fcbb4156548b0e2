using Microsoft.Data.Sqlite;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// A queue's statements, prepared once on the writer's connection and reused with new parameter values.
/// Only the writer thread touches them.
/// </summary>
internal sealed class QueueCommands : IDisposable
{
    public QueueCommands(SqliteConnection connection, string name)
    {
        var q = SqliteSchema.QueueTable(name);
        var d = SqliteSchema.DeadLetterTable(name);

        // A lease is valid while its token matches and its end (visible_at) is still ahead.
        const string LeaseHeld = "seq = $seq AND lease_token = $token AND visible_at > $now";

        Insert = new NativeStatement(connection,
            $"INSERT INTO {q} (id, priority, headers, body, enqueued_at, visible_at, delivery_count) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)");
        SelectReady = Prepare(connection,
            $"SELECT seq, id, priority, headers, body, enqueued_at, delivery_count, read_failures FROM {q} WHERE visible_at <= $now ORDER BY priority DESC, seq LIMIT $limit",
            ("$now", SqliteType.Integer), ("$limit", SqliteType.Integer));
        SelectOldestLowest = Prepare(connection,
            $"SELECT seq, id, priority, headers, body, enqueued_at, delivery_count, read_failures FROM {q} WHERE visible_at <= $now ORDER BY priority, seq LIMIT $limit",
            ("$now", SqliteType.Integer), ("$limit", SqliteType.Integer));
        Lease = Prepare(connection,
            $"UPDATE {q} SET lease_token = $token, visible_at = $expires, delivery_count = delivery_count + 1 WHERE seq = $seq",
            ("$token", SqliteType.Integer), ("$expires", SqliteType.Integer), ("$seq", SqliteType.Integer));
        NextVisible = Prepare(connection, $"SELECT MIN(visible_at) FROM {q}");
        Ack = Prepare(connection,
            $"DELETE FROM {q} WHERE {LeaseHeld}",
            ("$seq", SqliteType.Integer), ("$token", SqliteType.Integer), ("$now", SqliteType.Integer));
        Release = Prepare(connection,
            $"UPDATE {q} SET lease_token = NULL, visible_at = $visible WHERE {LeaseHeld}",
            ("$seq", SqliteType.Integer), ("$token", SqliteType.Integer), ("$now", SqliteType.Integer), ("$visible", SqliteType.Integer));
        HandBack = Prepare(connection,
            $"UPDATE {q} SET lease_token = NULL, visible_at = $now, delivery_count = delivery_count - 1 WHERE {LeaseHeld}",
            ("$seq", SqliteType.Integer), ("$token", SqliteType.Integer), ("$now", SqliteType.Integer));
        Renew = Prepare(connection,
            $"UPDATE {q} SET visible_at = $visible WHERE {LeaseHeld}",
            ("$seq", SqliteType.Integer), ("$token", SqliteType.Integer), ("$now", SqliteType.Integer), ("$visible", SqliteType.Integer));
        DeadLetter = Prepare(connection,
            $"INSERT INTO {d} (id, priority, headers, body, reason, delivery_count, enqueued_at, dead_lettered_at) " +
            $"SELECT id, priority, headers, body, $reason, delivery_count, enqueued_at, $now FROM {q} WHERE {LeaseHeld}",
            ("$seq", SqliteType.Integer), ("$token", SqliteType.Integer), ("$now", SqliteType.Integer), ("$reason", SqliteType.Text));
        DeadLetterUnreadable = Prepare(connection,
            $"INSERT INTO {d} (id, priority, headers, body, reason, delivery_count, enqueued_at, dead_lettered_at) " +
            $"SELECT id, priority, headers, body, $reason, delivery_count + 1, enqueued_at, $now FROM {q} WHERE seq = $seq",
            ("$seq", SqliteType.Integer), ("$reason", SqliteType.Text), ("$now", SqliteType.Integer));
        HideUnreadable = Prepare(connection,
            $"UPDATE {q} SET read_failures = read_failures + 1, visible_at = $visible, lease_token = NULL WHERE seq = $seq",
            ("$seq", SqliteType.Integer), ("$visible", SqliteType.Integer));
        DeleteBySeq = Prepare(connection, $"DELETE FROM {q} WHERE seq = $seq", ("$seq", SqliteType.Integer));
        Statistics = Prepare(connection,
            $"SELECT COALESCE(SUM(visible_at <= $now), 0), " +
            $"COALESCE(SUM(lease_token IS NULL AND visible_at > $now), 0), " +
            $"COALESCE(SUM(lease_token IS NOT NULL AND visible_at > $now), 0), " +
            $"(SELECT COUNT(*) FROM {d}), " +
            $"MIN(CASE WHEN visible_at <= $now THEN enqueued_at END) FROM {q}",
            ("$now", SqliteType.Integer));
    }

    /// <summary>Parameters: 1 id, 2 priority, 3 headers, 4 body, 5 now.</summary>
    public NativeStatement Insert { get; }

    public SqliteCommand SelectReady { get; }

    /// <summary>The ready rows in the order a drop-oldest buffer drops them: lowest priority first, oldest first within it.</summary>
    public SqliteCommand SelectOldestLowest { get; }

    public SqliteCommand Lease { get; }

    public SqliteCommand NextVisible { get; }

    public SqliteCommand Ack { get; }

    public SqliteCommand Release { get; }

    /// <summary>Ends a lease whose message no handler started: ready at once, its delivery taken back.</summary>
    public SqliteCommand HandBack { get; }

    public SqliteCommand Renew { get; }

    public SqliteCommand DeadLetter { get; }

    public SqliteCommand DeadLetterUnreadable { get; }

    /// <summary>Counts a failed read and hides the row until $visible, for another reader to try.</summary>
    public SqliteCommand HideUnreadable { get; }

    public SqliteCommand DeleteBySeq { get; }

    public SqliteCommand Statistics { get; }

    /// <summary>Finalizes the statements; the writer calls it before it closes the connection.</summary>
    public void Dispose()
    {
        Insert.Dispose();
        foreach (var command in new[] { SelectReady, SelectOldestLowest, Lease, NextVisible, Ack, Release, HandBack, Renew, DeadLetter, DeadLetterUnreadable, HideUnreadable, DeleteBySeq, Statistics })
        {
            command.Dispose();
        }
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, params (string Name, SqliteType Type)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (parameterName, type) in parameters)
        {
            command.Parameters.Add(parameterName, type);
        }

        command.Prepare();
        return command;
    }
}
