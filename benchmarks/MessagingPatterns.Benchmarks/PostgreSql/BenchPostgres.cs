using Npgsql;

namespace MessagingPatterns.Benchmarks.PostgreSql;

/// <summary>The benchmark server (<c>scripts/brokers.sh start postgres</c>) and a fresh schema per run.</summary>
internal static class BenchPostgres
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("MESSAGING_POSTGRES_CONNECTION") is { Length: > 0 } value
            ? value
            : "Host=127.0.0.1;Port=55432;Username=messaging;Password=messaging;Database=messaging";

    public static string NewSchema() => $"bench_{Environment.ProcessId}_{Random.Shared.Next(1_000_000)}";

    public static PostgreSqlStoreOptions Options(string schema, int maxOperationsPerTransaction = 512) => new()
    {
        ConnectionString = ConnectionString,
        Schema = schema,
        MaxOperationsPerTransaction = maxOperationsPerTransaction,
    };

    /// <summary>The direct baselines' table: the same columns and ready index as the store's messages table.</summary>
    public static string BaselineTable(string schema) => $"""
        CREATE TABLE "{schema}".baseline (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, queue text NOT NULL, id text NOT NULL,
            priority smallint NOT NULL, body bytea NOT NULL, enqueued_at timestamptz NOT NULL,
            visible_at timestamptz NOT NULL, lease_token bigint NULL, delivery_count integer NOT NULL DEFAULT 0);
        CREATE INDEX ON "{schema}".baseline (queue, priority DESC, seq);
        """;

    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task DropAsync(string schema)
    {
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        await ExecuteAsync(dataSource, $"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    }
}
