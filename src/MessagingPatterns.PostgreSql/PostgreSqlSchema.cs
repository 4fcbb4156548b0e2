using System.Text.RegularExpressions;
using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// The store's tables: one <c>messages</c> table and one <c>dead_letters</c> table per schema, shared by every
/// queue through a <c>queue</c> column. The package's <c>schema.sql</c> is <see cref="Script"/> for the default
/// schema, for those who provision by hand.
/// </summary>
/// <remarks>
/// One table for all queues rather than one per queue: a queue name may be 64 characters, more than
/// PostgreSQL's 63-byte identifiers leave room for; a new queue then needs no DDL (so the application's role
/// needs no CREATE privilege once the schema exists, and a queue name never reaches SQL text); and one script
/// provisions every queue. The ready index leads with the queue, so queues do not scan each other's rows.
/// </remarks>
internal static partial class PostgreSqlSchema
{
    /// <summary>The allow-list for schema names; with the suffix of the wake-up channel it stays under 63 bytes.</summary>
    public const string SchemaPattern = "^[a-z_][a-z0-9_]{0,47}$";

    // Any constant shared by every process using the store: serializes concurrent first uses.
    private const long SchemaLockKey = 0x4D5047_5343484D; // "MPG" "SCHM"

    // How long creating a missing object may wait for a table lock before giving up with a clear error.
    private static readonly TimeSpan s_lockTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Quotes an allow-listed identifier.</summary>
    /// <exception cref="ArgumentException">The identifier is not on the allow-list.</exception>
    public static string Quote(string schema)
    {
        if (!SchemaRegex().IsMatch(schema))
        {
            throw new ArgumentException($"Schema name '{schema}' is not allowed: use a lowercase letter or '_', then up to 47 lowercase letters, digits or '_'.", nameof(schema));
        }

        return $"\"{schema}\"";
    }

    /// <summary>The LISTEN/NOTIFY channel on which publishes to any queue of the schema are announced (payload: the queue's name).</summary>
    public static string Channel(string schema) => $"{schema}_ready";

    /// <summary>The idempotent DDL creating the schema, its tables and indexes.</summary>
    public static string Script(string schema) => string.Concat(Objects(schema).Select(item => item.Ddl));

    /// <summary>
    /// Creates what the schema lacks. Existence is read from the catalog first, which takes no lock on the tables,
    /// so an existing schema costs one query and works for a role that owns none of it. Only missing objects are
    /// created, under an advisory lock (processes starting together do not collide) and a lock timeout, so DDL
    /// never queues every writer of a live table behind it.
    /// </summary>
    /// <exception cref="InvalidOperationException">Objects are missing and could not be created (no privilege, or the table was busy).</exception>
    public static async Task EnsureAsync(NpgsqlDataSource dataSource, string schema, CancellationToken cancellationToken)
    {
        var objects = Objects(schema);
        var connection = await ConnectionOpener.OpenAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            if (!await AnyMissingAsync(connection, null, objects, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var missing = new List<string>();
                try
                {
                    await ExecuteAsync(connection, transaction, $"SET LOCAL lock_timeout = '{(int)s_lockTimeout.TotalMilliseconds}ms'; SELECT pg_advisory_xact_lock({SchemaLockKey})", cancellationToken).ConfigureAwait(false);

                    // Again under the lock: another process may have created them meanwhile.
                    var exists = await ExistsAsync(connection, transaction, objects, cancellationToken).ConfigureAwait(false);
                    for (var i = 0; i < objects.Count; i++)
                    {
                        if (!exists[i])
                        {
                            missing.Add(objects[i].Name);
                            await ExecuteAsync(connection, transaction, objects[i].Ddl, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.InsufficientPrivilege)
                {
                    var why = exception.SqlState == PostgresErrorCodes.LockNotAvailable
                        ? $"waiting over {s_lockTimeout.TotalSeconds:0} s for a lock (the tables are in use)"
                        : "the role lacks the privilege";
                    throw new InvalidOperationException(
                        $"The PostgreSQL schema '{schema}' lacks {string.Join(", ", missing)}, and creating it failed: {why}. " +
                        $"Create the schema with the package's schema.sql (then set {nameof(PostgreSqlStoreOptions)}.{nameof(PostgreSqlStoreOptions.CreateSchema)} to false), or retry.",
                        exception);
                }
            }
        }
    }

    private static async Task<bool> AnyMissingAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<SchemaObject> objects, CancellationToken cancellationToken) =>
        Array.IndexOf(await ExistsAsync(connection, transaction, objects, cancellationToken).ConfigureAwait(false), false) >= 0;

    private static async Task<bool[]> ExistsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<SchemaObject> objects, CancellationToken cancellationToken)
    {
        // Name lookups only (to_regnamespace, to_regclass): no lock on any table.
        var command = new NpgsqlCommand($"SELECT ARRAY[{string.Join(", ", objects.Select(item => item.Lookup))}]", connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            return (bool[])(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The schema's objects in creation order, each with its catalog lookup and its DDL.</summary>
    private static List<SchemaObject> Objects(string schema)
    {
        var s = Quote(schema);
        return
        [
            new("schema", $"to_regnamespace('{s}') IS NOT NULL", $"""
                CREATE SCHEMA IF NOT EXISTS {s};


                """),
            new("messages", $"to_regclass('{s}.messages') IS NOT NULL", $"""
                -- One row per message not yet acked. visible_at is when it may be received: its enqueue time, the end of
                -- a release delay, or, while leased (lease_token set), the lease's end. An expired lease is therefore
                -- ready again without any sweeper. A row released with a delay holds token 0 (never a lease's) until due.
                CREATE TABLE IF NOT EXISTS {s}.messages (
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


                """),
            new("messages.read_failures", $"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{s}.messages') AND attname = 'read_failures' AND NOT attisdropped)", $"""
                -- How often this message's body failed to deserialize (added to tables created before it existed).
                ALTER TABLE {s}.messages ADD COLUMN IF NOT EXISTS read_failures integer NOT NULL DEFAULT 0;


                """),
            new("messages_ready", $"to_regclass('{s}.messages_ready') IS NOT NULL", $"""
                -- Ready rows (no token) in receive order: higher priority first, then publish order.
                CREATE INDEX IF NOT EXISTS messages_ready ON {s}.messages (queue, priority DESC, seq) WHERE lease_token IS NULL;


                """),
            new("messages_due", $"to_regclass('{s}.messages_due') IS NOT NULL", $"""
                -- Leased and delayed rows (a token) by when they are due, so receives and waits read only the due ones.
                CREATE INDEX IF NOT EXISTS messages_due ON {s}.messages (queue, visible_at) WHERE lease_token IS NOT NULL;


                """),
            new("dead_letters", $"to_regclass('{s}.dead_letters') IS NOT NULL", $"""
                -- Messages taken out of their queue after their last attempt, with the reason.
                CREATE TABLE IF NOT EXISTS {s}.dead_letters (
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


                """),
            new("dead_letters_queue", $"to_regclass('{s}.dead_letters_queue') IS NOT NULL", $"""
                CREATE INDEX IF NOT EXISTS dead_letters_queue ON {s}.dead_letters (queue, seq);

                """),
            new("dead_letters_id", $"to_regclass('{s}.dead_letters_id') IS NOT NULL", $"""
                CREATE INDEX IF NOT EXISTS dead_letters_id ON {s}.dead_letters (queue, id);

                """),
        ];
    }

    [GeneratedRegex(SchemaPattern, RegexOptions.CultureInvariant)]
    private static partial Regex SchemaRegex();

    /// <summary>One object of the schema: its name, a boolean SQL expression true when it exists, and its DDL.</summary>
    private sealed record SchemaObject(string Name, string Lookup, string Ddl);
}
