using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using MessagingPatterns.Consumers;
using MessagingPatterns.Stores;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Benchmarks.Core;

/// <summary>
/// Publish → receive → ack throughput of the in-memory FIFO store and of the full consumer runtime, beside
/// a raw unbounded <see cref="Channel{T}"/> (the baseline) in the same run. Each operation is one message;
/// read the Ratio column against the baseline and Allocated per message.
/// </summary>
[MemoryDiagnoser]
public class CompetingConsumersBenchmarks
{
    private const int Messages = 100_000;
    private const int ReceiveBatch = 64;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);

    private ServiceProvider _services = null!;
    private IMessageStore<int> _store = null!;

    /// <summary>Producers × consumers: 1×1 and 2×2.</summary>
    [Params(1, 2)]
    public int Parallelism { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        // The lifetime AddConsumer gives a handler: transient, resolved from each message's scope.
        services.AddTransient<CountingConsumer>();
        _services = services.BuildServiceProvider();

        // One store for every invocation of the store path (each ends with the store empty), so the figures
        // are the steady state rather than a new store's queues growing to the first backlog.
        _store = MessageStore.CreateInMemory<int>("bench");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        await _services.DisposeAsync();
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

    [Benchmark(OperationsPerInvoke = Messages, Description = "store: publish+receive+ack")]
    public async Task StorePath()
    {
        var store = _store;
        var remaining = Messages;
        using var done = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[ReceiveBatch];
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

    [Benchmark(OperationsPerInvoke = Messages, Description = "runtime: publish+scope+pipeline+handler+ack")]
    public async Task FullRuntime()
    {
        await using var store = MessageStore.CreateInMemory<int>("bench");
        var counter = new Countdown(Messages);
        var options = new ConsumerOptions { Concurrency = Parallelism, PrefetchCount = ReceiveBatch, LeaseDuration = s_lease };
        await using var pool = new ConsumerWorkerPool<int>(
            store,
            _services.GetRequiredService<IServiceScopeFactory>(),
            scope => scope.GetRequiredService<CountingConsumer>().With(counter),
            options);
        await pool.StartAsync(default);

        await Task.WhenAll(Producers(i => store.EnqueueAsync(new Message<int>(i))));
        await counter.Done.Task;
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

    /// <summary>Counts handled messages down to zero and signals.</summary>
    private sealed class Countdown(int count)
    {
        private int _remaining = count;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Signal()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                Done.TrySetResult();
            }
        }
    }

    /// <summary>The benchmark's handler: resolved from each message's scope, does nothing but count.</summary>
    private sealed class CountingConsumer : IConsumer<int>
    {
        private Countdown? _countdown;

        public CountingConsumer With(Countdown countdown)
        {
            _countdown = countdown;
            return this;
        }

        public Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            _countdown!.Signal();
            return Task.CompletedTask;
        }
    }
}
