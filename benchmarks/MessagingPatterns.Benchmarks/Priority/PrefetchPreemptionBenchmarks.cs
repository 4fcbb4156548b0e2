using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Benchmarks.Priority;

/// <summary>
/// What the check against priority inversion costs when there is nothing urgent: a worker pool prefetching 64
/// from the in-memory priority store, which asks the store before every start whether a higher priority is
/// ready, beside the same pool over the same store behind a decorator that hides the check (the runtime as it
/// was before: no check, no hand-back), in the same run. Every message has one priority, so nothing is handed
/// back; each operation is one message (publish, receive, handler, ack).
/// </summary>
[MemoryDiagnoser]
public class PrefetchPreemptionBenchmarks
{
    private const int Messages = 100_000;

    private IPriorityMessageStore<int> _store = null!;
    private IServiceScopeFactory _scopes = null!;

    /// <summary>Workers, and as many producers.</summary>
    [Params(1, 2)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _store = MessageStore.CreatePriority<int>("bench-preemption", new PriorityQueueOptions { Levels = 3 });
        _scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();
    }

    [GlobalCleanup]
    public async Task CleanupAsync() => await _store.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "prefetch 64, no check (store hidden)")]
    public Task WithoutCheck() => RunAsync(new HiddenStore<int>(_store));

    [Benchmark(OperationsPerInvoke = Messages, Description = "prefetch 64, check before every start")]
    public Task WithCheck() => RunAsync(_store);

    private async Task RunAsync(IMessageStore<int> store)
    {
        var remaining = Messages;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new Counting(() =>
        {
            if (Interlocked.Decrement(ref remaining) == 0)
            {
                done.TrySetResult();
            }
        });
        var options = new ConsumerOptions { Concurrency = Concurrency, PrefetchCount = 64, LeaseDuration = TimeSpan.FromMinutes(5) };
        await using var pool = new ConsumerWorkerPool<int>(store, _scopes, _ => consumer, options);
        await pool.StartAsync(default);

        var perProducer = Messages / Concurrency;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                await _store.EnqueueAsync(new Message<int>(i, priority: 1));
            }
        })));
        await done.Task;
        await pool.StopAsync(default);
    }

    private sealed class Counting(Action signal) : IConsumer<int>
    {
        public Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            signal();
            return Task.CompletedTask;
        }
    }

    /// <summary>Passes every call on, but is not an <see cref="IPreemptibleStore{TMessage}"/>: the pool cannot check.</summary>
    private sealed class HiddenStore<TMessage>(IMessageStore<TMessage> inner) : IMessageStore<TMessage>
    {
        public string Name => inner.Name;

        public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

        public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

        public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
            inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

        public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) => inner.AckAsync(lease, cancellationToken);

        public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) =>
            inner.ReleaseAsync(lease, delay, cancellationToken);

        public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
            inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

        public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) =>
            inner.DeadLetterAsync(lease, reason, cancellationToken);

        public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
            inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

        public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
            inner.PurgeDeadLettersAsync(filter, cancellationToken);

        public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
            inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

        public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
