using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.Sqlite;

/// <summary>
/// 16 concurrent publishers of single messages: group commit (concurrent publishes share a transaction
/// and its flush) against the naive writer (one transaction, so one flush, per message), FULL and NORMAL.
/// </summary>
[InvocationCount(1, 1)]
public class SqliteGroupCommitBenchmarks
{
    private const int Publishers = 16;
    // Enough for several WAL checkpoints per iteration with group commit (one every ~300 transactions here):
    // with fewer, whether an iteration happened to include a checkpoint's 10-17 ms dominated its time.
    private const int Messages = 8_000;

    private IMessageStore<BenchMessage> _store = null!;
    private string? _path;

    [Params(SqliteSynchronousMode.Full, SqliteSynchronousMode.Normal)]
    public SqliteSynchronousMode Synchronous { get; set; }

    [Params(true, false)]
    public bool GroupCommit { get; set; }

    [GlobalSetup]
    public void Setup() => (_store, _path) = BenchStores.Create(
        Synchronous == SqliteSynchronousMode.Full ? BenchStoreKind.SqliteFull : BenchStoreKind.SqliteNormal,
        GroupCommit ? 512 : 1);

    [GlobalCleanup]
    public Task CleanupAsync() => BenchStores.DisposeAsync(_store, _path);

    [Benchmark(OperationsPerInvoke = Messages, Description = "16 publishers, single messages")]
    public Task ConcurrentSinglePublishes() => PublishConcurrentlyAsync(_store, Publishers, Messages);

    internal static Task PublishConcurrentlyAsync(IMessageStore<BenchMessage> store, int publishers, int messages) =>
        Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < messages; i += publishers)
            {
                await store.EnqueueAsync(new Message<BenchMessage>(new BenchMessage(i, "payload")));
            }
        })));
}
