using BenchmarkDotNet.Attributes;
using MessagingPatterns.Benchmarks.Sqlite;
using MessagingPatterns.PostgreSql;

namespace MessagingPatterns.Benchmarks.PostgreSql;

/// <summary>
/// 16 concurrent publishers of single messages: group commit (whatever arrives while a transaction is on the wire
/// goes in the next one) against one transaction per publish (MaxOperationsPerTransaction = 1).
/// </summary>
[InvocationCount(1, 1)]
public class PostgreSqlGroupCommitBenchmarks
{
    private const int Publishers = 16;
    private const int Messages = 4_000;

    private string _schema = null!;
    private IMessageStore<BenchMessage> _store = null!;

    [Params(true, false)]
    public bool GroupCommit { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _schema = BenchPostgres.NewSchema();
        _store = PostgreSqlMessageStore.Create<BenchMessage>("bench", BenchPostgres.Options(_schema, GroupCommit ? 512 : 1));
        await _store.GetStatisticsAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        await BenchPostgres.DropAsync(_schema);
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "16 publishers, single messages")]
    public Task ConcurrentSinglePublishes() => SqliteGroupCommitBenchmarks.PublishConcurrentlyAsync(_store, Publishers, Messages);
}
