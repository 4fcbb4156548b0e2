using System.Threading.Channels;
using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.Core;

/// <summary>
/// Publish → receive → ack throughput of the in-memory FIFO store, with 64 messages per receive and with one,
/// beside a raw unbounded <see cref="Channel{T}"/> (the baseline) in the same run. Each operation is one
/// message; read the Ratio column against the baseline and Allocated per message. The consumer runtime over
/// this store is in <see cref="CompetingConsumersRuntimeBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
public class CompetingConsumersBenchmarks
{
    private const int Messages = 100_000;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);

    private IMessageStore<int> _store = null!;

    /// <summary>Producers × consumers: 1×1 and 2×2.</summary>
    [Params(1, 2)]
    public int Parallelism { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // One store for every invocation of the store path (each ends with the store empty), so the figures
        // are the steady state rather than a new store's queues growing to the first backlog.
        _store = MessageStore.CreateInMemory<int>("bench");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "raw Channel<T>")]
    public async Task RawChannel()
    {
        var channel = Channel.CreateUnbounded<int>();
        var remaining = Messages;
        var consumers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            while (Volatile.Read(ref remaining) > 0 && await channel.Reader.WaitToReadAsync())
            {
                while (channel.Reader.TryRead(out _))
                {
                    if (Interlocked.Decrement(ref remaining) == 0)
                    {
                        channel.Writer.Complete();
                    }
                }
            }
        })).ToArray();

        await Task.WhenAll(Producers(i =>
        {
            channel.Writer.TryWrite(i);
            return ValueTask.CompletedTask;
        }));
        await Task.WhenAll(consumers);
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "store: publish+receive (64 per receive)+ack")]
    public Task StorePath() => RunStorePathAsync(64);

    [Benchmark(OperationsPerInvoke = Messages, Description = "store: publish+receive (1 per receive)+ack")]
    public Task StorePathOnePerReceive() => RunStorePathAsync(1);

    private async Task RunStorePathAsync(int receiveBatch)
    {
        var store = _store;
        var remaining = Messages;
        using var done = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[receiveBatch];
            while (true)
            {
                int received;
                try
                {
                    received = await store.ReceiveAsync(buffer, s_lease, done.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                for (var i = 0; i < received; i++)
                {
                    await store.AckAsync(buffer[i].Lease);
                    if (Interlocked.Decrement(ref remaining) == 0)
                    {
                        done.Cancel();
                    }
                }
            }
        })).ToArray();

        await Task.WhenAll(Producers(i => store.EnqueueAsync(new Message<int>(i))));
        await Task.WhenAll(consumers);
    }

    private Task[] Producers(Func<int, ValueTask> publish)
    {
        var perProducer = Messages / Parallelism;
        return Enumerable.Range(0, Parallelism).Select(p => Task.Run(async () =>
        {
            var first = p * perProducer;
            for (var i = first; i < first + perProducer; i++)
            {
                await publish(i);
            }
        })).ToArray();
    }
}
