using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// The test server started by <c>scripts/brokers.sh start postgres</c>. Tests call <see cref="Require"/> first:
/// without a server they are skipped with the reason, unless MESSAGING_REQUIRE_BROKERS=1 makes that a failure.
/// </summary>
internal static class PostgresServer
{
    /// <summary>The connection string <c>scripts/brokers/postgres.sh</c> sets up.</summary>
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=55432;Username=messaging;Password=messaging;Database=messaging";

    private static readonly Lazy<string?> s_unavailable = new(Probe);

    /// <summary>MESSAGING_POSTGRES_CONNECTION, or the script's default.</summary>
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("MESSAGING_POSTGRES_CONNECTION") is { Length: > 0 } value ? value : DefaultConnectionString;

    /// <summary>Skips the test when the server is absent (fails it under MESSAGING_REQUIRE_BROKERS=1).</summary>
    public static void Require()
    {
        if (s_unavailable.Value is { } reason)
        {
            if (Environment.GetEnvironmentVariable("MESSAGING_REQUIRE_BROKERS") == "1")
            {
                throw new InvalidOperationException($"MESSAGING_REQUIRE_BROKERS=1 and {reason}");
            }

            Skip.If(true, reason);
        }
    }

    /// <summary>A schema name no other test uses.</summary>
    public static string NewSchema() => $"t_{Guid.NewGuid():N}"[..30];

    /// <summary>Drops a test's schema and everything in it.</summary>
    public static async Task DropSchemaAsync(string schema)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }

    private static string? Probe()
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionString);
            connection.Open();
            return null;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return $"no PostgreSQL server answered ({exception.GetType().Name}); start one with `scripts/brokers.sh start postgres` or set MESSAGING_POSTGRES_CONNECTION.";
        }
    }
}
