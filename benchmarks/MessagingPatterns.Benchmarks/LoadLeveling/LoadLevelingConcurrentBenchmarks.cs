using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.LoadLeveling;

/// <summary>
/// What the load-leveling buffer (no pacing, a capacity far above the traffic) costs over the store it wraps while
/// producers and consumers run at once: each consumer receives batches of 16 and acknowledges each message. Judge by
/// Ratio against the undecorated in-memory store at the same producer and consumer counts.
/// </summary>
[MemoryDiagnoser]
public class LoadLevelingConcurrentBenchmarks
{
    private const int Messages = 100_000;
    private const int Batch = 16;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);
    private IMessageStore<int> _store = null!;

    /// <summary>Producers and consumers each (1×1 or 2×2).</summary>
    [Params(1, 2)]
    public int Workers { get; set; }

    /// <summary>Whether the store is wrapped in the load-leveling buffer.</summary>
    [Params(false, true)]
    public bool Leveled { get; set; }

    [IterationSetup]
    public void Setup()
    {
        var inner = MessageStore.CreateInMemory<int>("concurrent");
        _store = Leveled ? MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { Capacity = 10_000_000 }) : inner;
    }

    [IterationCleanup]
    public void Cleanup() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task PublishAndConsume()
    {
        var perWorker = Messages / Workers;
        var producers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < perWorker; i++)
            {
                await _store.EnqueueAsync(new Message<int>(i));
            }
        }));
        var consumers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[Batch];
            var left = perWorker;
            while (left > 0)
            {
                var received = await _store.ReceiveAsync(buffer.AsMemory(0, Math.Min(Batch, left)), s_lease);
                for (var i = 0; i < received; i++)
                {
                    await _store.AckAsync(buffer[i].Lease);
                }

                left -= received;
            }
        }));
        await Task.WhenAll(producers.Concat(consumers));
    }
}
