using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MessagingPatterns.Sqlite;

/// <summary>Opens store connections with the durability settings and creates a queue's tables.</summary>
/// <remarks>
/// Table names come from the queue name, which <see cref="QueueNames"/> allow-lists (no quotes possible),
/// and are always double-quoted; the <c>q:</c> and <c>dlq:</c> prefixes use a character queue names cannot
/// contain, so no queue's table can collide with another's dead-letter table. Every value is a parameter.
/// </remarks>
internal static class SqliteSchema
{
    public static string QueueTable(string name) => $"\"q:{name}\"";

    public static string DeadLetterTable(string name) => $"\"dlq:{name}\"";

    public static SqliteConnection Open(SqliteStoreOptions options)
    {
        var builder = options.ConnectionString is { Length: > 0 } connectionString
            ? new SqliteConnectionStringBuilder(connectionString)
            : new SqliteConnectionStringBuilder { DataSource = options.DatabasePath };

        // The store holds its one connection for life; a pooled connection would keep the file open
        // after disposal.
        builder.Pooling = false;
        builder.Mode = SqliteOpenMode.ReadWriteCreate;
        builder.DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds);

        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            var busyMilliseconds = ((long)options.BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            Execute(connection, $"PRAGMA busy_timeout = {busyMilliseconds};");
            var journalMode = Scalar(connection, "PRAGMA journal_mode = WAL;");
            if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"The SQLite database could not switch to WAL mode (journal mode is '{journalMode}'); the store needs WAL for durable, concurrent access.");
            }

            Execute(connection, options.Synchronous == SqliteSynchronousMode.Full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public static void EnsureQueue(SqliteConnection connection, string name)
    {
        QueueNames.ThrowIfInvalid(name);
        var queue = QueueTable(name);
        var deadLetters = DeadLetterTable(name);

        // seq is the rowid without AUTOINCREMENT (which costs a write to sqlite_sequence per insert): a new
        // row still gets a seq above every live row, so arrival order holds, and a reused seq is harmless
        // because leases are fenced by their random token. The ready index gives priority-then-arrival
        // order, so a receive walks it and stops at its LIMIT instead of sorting the table; it leaves out
        // visible_at so that leasing, renewing and releasing never touch the index.
        Execute(connection, "BEGIN IMMEDIATE;");
        try
        {
            ThrowIfNameTakenInOtherCase(connection, name);
        }
        catch
        {
            Execute(connection, "ROLLBACK;");
            throw;
        }

        Execute(connection, $"""
            CREATE TABLE IF NOT EXISTS {queue} (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL,
                priority INTEGER NOT NULL,
                headers TEXT NULL,
                body BLOB NOT NULL,
                enqueued_at INTEGER NOT NULL,
                visible_at INTEGER NOT NULL,
                delivery_count INTEGER NOT NULL,
                lease_token INTEGER NULL,
                read_failures INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS "q:{name}:ready" ON {queue} (priority DESC, seq);
            CREATE TABLE IF NOT EXISTS {deadLetters} (
                dseq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL,
                priority INTEGER NOT NULL,
                headers TEXT NULL,
                body BLOB NOT NULL,
                reason TEXT NOT NULL,
                delivery_count INTEGER NOT NULL,
                enqueued_at INTEGER NOT NULL,
                dead_lettered_at INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS "dlq:{name}:id" ON {deadLetters} (id);
            """);
        AddColumnIfMissing(connection, queue, "read_failures", "INTEGER NOT NULL DEFAULT 0");
        Execute(connection, "COMMIT;");
    }

    /// <summary>Brings a table made by an earlier version up to date (inside the caller's transaction).</summary>
    private static void AddColumnIfMissing(SqliteConnection connection, string table, string column, string definition)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table.Trim('"')}') WHERE name = $column";
        command.Parameters.AddWithValue("$column", column);
        if ((long)command.ExecuteScalar()! == 0)
        {
            Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {definition};");
        }
    }

    /// <summary>
    /// SQLite compares table names without case, even quoted, so queues named <c>Orders</c> and <c>orders</c>
    /// would share one table and receive each other's messages: the second is refused instead.
    /// </summary>
    private static void ThrowIfNameTakenInOtherCase(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT substr(name, instr(name, ':') + 1) FROM sqlite_master " +
            "WHERE type = 'table' AND (name = $q COLLATE NOCASE OR name = $d COLLATE NOCASE) AND name <> $q AND name <> $d LIMIT 1";
        command.Parameters.AddWithValue("$q", "q:" + name);
        command.Parameters.AddWithValue("$d", "dlq:" + name);
        if (command.ExecuteScalar() is string existing)
        {
            throw new InvalidOperationException(
                $"Queue '{name}' cannot be created in this database file: it already holds queue '{existing}', and SQLite table names ignore case, so the two would share one table. Rename one of them.");
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() as string;
    }
}
