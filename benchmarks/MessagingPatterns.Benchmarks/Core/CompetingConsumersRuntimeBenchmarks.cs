using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MessagingPatterns.Benchmarks.Core;

/// <summary>
/// The consumer runtime's cost over its store: publish → worker pool (receive, DI scope, handler, ack) beside
/// a hand-written receive → handler → ack loop on the same in-memory store (the baseline) in the same run, at
/// the same concurrency and receive batch (the pool's prefetch). Each operation is one message; read the
/// Ratio column against the baseline and Allocated per message.
/// </summary>
[MemoryDiagnoser]
public class CompetingConsumersRuntimeBenchmarks
{
    private const int Messages = 100_000;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);

    private IMessageStore<int> _store = null!;

    /// <summary>Workers, and as many producers.</summary>
    [Params(1, 2)]
    public int Concurrency { get; set; }

    /// <summary>Messages taken per receive: the pool's <see cref="ConsumerOptions.PrefetchCount"/>.</summary>
    [Params(1, 16)]
    public int Prefetch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // One long-lived store for both (each invocation leaves it empty), as in a service.
        _store = MessageStore.CreateInMemory<int>("bench-runtime");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "hand-written receive+handler+ack loop")]
    public async Task HandWrittenLoop()
    {
        var store = _store;
        var counter = new Countdown(Messages);
        using var done = new CancellationTokenSource();
        _ = counter.Done.Task.ContinueWith(static (_, s) => ((CancellationTokenSource)s!).Cancel(), done, TaskScheduler.Default);
        var consumers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[Prefetch];
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
                    counter.Signal(); // the handler
                    await store.AckAsync(buffer[i].Lease);
                }
            }
        })).ToArray();

        await Task.WhenAll(Producers(i => store.EnqueueAsync(new Message<int>(i))));
        await counter.Done.Task;
        await Task.WhenAll(consumers);
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "runtime: publish+pool+scope+handler+ack")]
    public async Task Runtime()
    {
        var store = _store;
        var counter = new Countdown(Messages);

        // As an application registers it: AddConsumer over the store, run by the hosted service.
        var services = new ServiceCollection();
        services.AddSingleton(counter);
        services.AddMessageQueue(store).AddConsumer<CountingConsumer>(o =>
        {
            o.Concurrency = Concurrency;
            o.PrefetchCount = Prefetch;
            o.LeaseDuration = s_lease;
        });
        await using var provider = services.BuildServiceProvider();
        var host = provider.GetRequiredService<IHostedService>();
        await host.StartAsync(default);

        await Task.WhenAll(Producers(i => store.EnqueueAsync(new Message<int>(i))));
        await counter.Done.Task;
        await host.StopAsync(default);
    }

    private Task[] Producers(Func<int, ValueTask> publish)
    {
        var perProducer = Messages / Concurrency;
        return Enumerable.Range(0, Concurrency).Select(p => Task.Run(async () =>
        {
            var first = p * perProducer;
            for (var i = first; i < first + perProducer; i++)
            {
                await publish(i);
            }
        })).ToArray();
    }

    /// <summary>Counts handled messages down to zero and signals.</summary>
    internal sealed class Countdown(int count)
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

    /// <summary>The benchmark's handler: does nothing but count.</summary>
    private sealed class CountingConsumer(Countdown countdown) : IConsumer<int>
    {
        public Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            countdown.Signal();
            return Task.CompletedTask;
        }
    }
}
