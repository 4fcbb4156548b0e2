using System.Text.Json;
using BenchmarkDotNet.Attributes;
using MessagingPatterns.Benchmarks.Sqlite;
using MessagingPatterns.PostgreSql;
using Npgsql;

namespace MessagingPatterns.Benchmarks.PostgreSql;

/// <summary>
/// 16 concurrent publishers of single messages: a direct Npgsql baseline (each publish its own INSERT and commit,
/// as an application writing rows would do), the store with group commit (whatever arrives while a transaction is
/// on the wire goes in the next one) and the store with one transaction per publish (MaxOperationsPerTransaction = 1).
/// </summary>
[InvocationCount(1, 1)]
public class PostgreSqlGroupCommitBenchmarks
{
    private const int Publishers = 16;
    private const int Messages = 4_000;

    private string _schema = null!;
    private NpgsqlDataSource _dataSource = null!;
    private IMessageStore<BenchMessage> _grouped = null!;
    private IMessageStore<BenchMessage> _single = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _schema = BenchPostgres.NewSchema();
        _dataSource = NpgsqlDataSource.Create(BenchPostgres.ConnectionString);
        _grouped = PostgreSqlMessageStore.Create<BenchMessage>("grouped", BenchPostgres.Options(_schema));
        _single = PostgreSqlMessageStore.Create<BenchMessage>("single", BenchPostgres.Options(_schema, maxOperationsPerTransaction: 1));
        await _grouped.GetStatisticsAsync();
        await _single.GetStatisticsAsync();
        await BenchPostgres.ExecuteAsync(_dataSource, BenchPostgres.BaselineTable(_schema));
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _grouped.DisposeAsync();
        await _single.DisposeAsync();
        await _dataSource.DisposeAsync();
        await BenchPostgres.DropAsync(_schema);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "direct Npgsql, 16 publishers, one INSERT each")]
    public Task DirectNpgsql() =>
        Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < Messages; i += Publishers)
            {
                await using var insert = _dataSource.CreateCommand($"""
                    INSERT INTO "{_schema}".baseline (queue, id, priority, body, enqueued_at, visible_at)
                    VALUES ('direct', $1, 0, $2, now(), now())
                    """);
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Guid.NewGuid().ToString("N") });
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = JsonSerializer.SerializeToUtf8Bytes(new BenchMessage(i, "payload")) });
                await insert.ExecuteNonQueryAsync();
            }
        })));

    [Benchmark(OperationsPerInvoke = Messages, Description = "store, group commit, 16 publishers")]
    public Task GroupCommit() => SqliteGroupCommitBenchmarks.PublishConcurrentlyAsync(_grouped, Publishers, Messages);

    [Benchmark(OperationsPerInvoke = Messages, Description = "store, one transaction per publish, 16 publishers")]
    public Task OneTransactionEach() => SqliteGroupCommitBenchmarks.PublishConcurrentlyAsync(_single, Publishers, Messages);
}
