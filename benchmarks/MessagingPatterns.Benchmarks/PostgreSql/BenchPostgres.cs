using MessagingPatterns.PostgreSql;
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
