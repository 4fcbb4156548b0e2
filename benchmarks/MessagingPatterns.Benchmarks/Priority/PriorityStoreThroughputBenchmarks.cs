using System.Threading.Channels;
using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.Priority;

/// <summary>
/// Publish + receive + ack throughput of the priority store under each level scheduler beside the core FIFO store
/// (the baseline: each scheduler's target is 0.8x its throughput) and a raw unbounded <see cref="Channel{T}"/>, with
/// 1x1 and 2x2 producers x consumers receiving batches of 16. Priorities cycle over 3 levels.
/// </summary>
[MemoryDiagnoser]
public class PriorityStoreThroughputBenchmarks
{
    private const int Messages = 100_000;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);

    private IMessageStore<int> _fifo = null!;
    private IMessageStore<int> _priority = null!;
    private IMessageStore<int> _aging = null!;
    private IMessageStore<int> _strict = null!;
    private IMessageStore<int> _weighted = null!;
    private IMessageStore<int> _deadline = null!;

    [Params(1, 2)]
    public int Parallelism { get; set; }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task Channel()
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<Message<int>>();
        var perProducer = Messages / Parallelism;
        var producers = Enumerable.Range(0, Parallelism).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                channel.Writer.TryWrite(new Message<int>(i, priority: i % 3));
            }
        })).ToArray();
        var consumers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                await channel.Reader.ReadAsync();
            }
        })).ToArray();
        await Task.WhenAll(producers);
        await Task.WhenAll(consumers);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public Task FifoStore() => RunAsync(_fifo);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task PriorityStore() => RunAsync(_priority);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task PriorityStoreWithAging() => RunAsync(_aging);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task MultiQueueStrict() => RunAsync(_strict);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task MultiQueueWeighted() => RunAsync(_weighted);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task MultiQueueDeadline() => RunAsync(_deadline);

    // Each store lives for the whole run (every invocation leaves it empty), so the figures are the steady
    // state rather than a new store's queues growing to the first backlog.
    [GlobalSetup]
    public void Setup()
    {
        _fifo = MessageStore.CreateInMemory<int>("fifo");
        _priority = MessageStore.CreatePriority<int>("priority", new PriorityQueueOptions { Levels = 3 });
        _aging = MessageStore.CreatePriority<int>("aging", new PriorityQueueOptions { Levels = 3, AgingMaxWait = TimeSpan.FromSeconds(1) });
        _strict = MessageStore.CreateMultiQueue<int>("strict", new MultiQueueOptions { Levels = 3 });
        _weighted = MessageStore.CreateMultiQueue<int>("weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted(70, 20, 10) });
        _deadline = MessageStore.CreateMultiQueue<int>("deadline", new MultiQueueOptions
        {
            Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
        });
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        foreach (var store in new[] { _fifo, _priority, _aging, _strict, _weighted, _deadline })
        {
            await store.DisposeAsync();
        }
    }

    private async Task RunAsync(IMessageStore<int> store)
    {
        var perProducer = Messages / Parallelism;
        var producers = Enumerable.Range(0, Parallelism).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                await store.EnqueueAsync(new Message<int>(i, priority: i % 3));
            }
        })).ToArray();
        var consumers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[16];
            var remaining = perProducer;
            while (remaining > 0)
            {
                var received = await store.ReceiveAsync(buffer.AsMemory(0, Math.Min(buffer.Length, remaining)), s_lease);
                for (var i = 0; i < received; i++)
                {
                    await store.AckAsync(buffer[i].Lease);
                }

                remaining -= received;
            }
        })).ToArray();
        await Task.WhenAll(producers);
        await Task.WhenAll(consumers);
    }
}
