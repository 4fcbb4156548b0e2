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
    public static string Script(string schema)
    {
        var s = Quote(schema);
        return $"""
            CREATE SCHEMA IF NOT EXISTS {s};

            -- One row per message not yet acked. visible_at is when it may be received: its enqueue time, the end of
            -- a release delay, or, while leased (lease_token set), the lease's end. An expired lease is therefore
            -- ready again without any sweeper.
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
                delivery_count integer     NOT NULL DEFAULT 0
            );

            -- Receive order: higher priority first, then publish order.
            CREATE INDEX IF NOT EXISTS messages_ready ON {s}.messages (queue, priority DESC, seq);

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

            CREATE INDEX IF NOT EXISTS dead_letters_queue ON {s}.dead_letters (queue, seq);
            CREATE INDEX IF NOT EXISTS dead_letters_id ON {s}.dead_letters (queue, id);

            """;
    }

    /// <summary>Runs <see cref="Script"/> under an advisory lock, so processes starting together do not collide.</summary>
    public static async Task EnsureAsync(NpgsqlDataSource dataSource, string schema, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SchemaLockKey});\n{Script(schema)}", connection, transaction);
                await using (command.ConfigureAwait(false))
                {
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    [GeneratedRegex(SchemaPattern, RegexOptions.CultureInvariant)]
    private static partial Regex SchemaRegex();
}
