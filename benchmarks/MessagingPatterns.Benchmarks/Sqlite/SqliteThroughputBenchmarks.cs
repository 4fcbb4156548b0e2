using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.Sqlite;

/// <summary>
/// Throughput of the SQLite store beside the in-memory store: batched publish, receive+ack, and 16
/// concurrent single publishers (group commit). One operation is one message, so msgs/s = 1e9 / Mean(ns).
/// </summary>
[InvocationCount(1, 1)]
public class SqliteThroughputBenchmarks
{
    private const int Messages = 10_000;
    private const int BatchSize = 100;
    private const int Publishers = 16;
    private const int ConcurrentMessages = 4_000;

    private IMessageStore<BenchMessage> _store = null!;
    private string? _path;
    private Message<BenchMessage>[][] _batches = null!;
    private readonly Delivery<BenchMessage>[] _buffer = new Delivery<BenchMessage>[BatchSize];
    private readonly Task<bool>[] _acks = new Task<bool>[BatchSize];

    [Params(BenchStoreKind.InMemory, BenchStoreKind.SqliteFull, BenchStoreKind.SqliteNormal)]
    public BenchStoreKind Store { get; set; }

    [GlobalSetup]
    public void Setup() => (_store, _path) = BenchStores.Create(Store);

    [GlobalCleanup]
    public Task CleanupAsync() => BenchStores.DisposeAsync(_store, _path);

    [IterationSetup(Target = nameof(PublishBatched))]
    public void SetupPublish() => _batches = BenchStores.Batches(Messages, BatchSize);

    [IterationSetup(Target = nameof(ReceiveAndAck))]
    public void SetupReceive()
    {
        foreach (var batch in BenchStores.Batches(Messages, BatchSize))
        {
            _store.EnqueueBatchAsync(batch).AsTask().GetAwaiter().GetResult();
        }
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "publish, batches of 100")]
    public async Task PublishBatched()
    {
        foreach (var batch in _batches)
        {
            await _store.EnqueueBatchAsync(batch);
        }
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "receive 100 + ack each (acks concurrent)")]
    public async Task ReceiveAndAck()
    {
        var remaining = Messages;
        while (remaining > 0)
        {
            var received = await _store.ReceiveAsync(_buffer, TimeSpan.FromMinutes(5));
            for (var i = 0; i < received; i++)
            {
                _acks[i] = _store.AckAsync(_buffer[i].Lease).AsTask();
            }

            await Task.WhenAll(new ArraySegment<Task<bool>>(_acks, 0, received));
            remaining -= received;
        }
    }

    [Benchmark(OperationsPerInvoke = ConcurrentMessages, Description = "16 publishers, single messages")]
    public Task ConcurrentSinglePublishes() => SqliteGroupCommitBenchmarks.PublishConcurrentlyAsync(_store, Publishers, ConcurrentMessages);
}
