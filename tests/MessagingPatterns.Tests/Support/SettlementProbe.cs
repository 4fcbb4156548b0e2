using System.Collections.Concurrent;

namespace MessagingPatterns.Tests.Support;

/// <summary>
/// A store decorator that signals each settlement (ack, release, dead-letter) as it completes, so a test
/// waits on the exact event instead of polling the store.
/// </summary>
public sealed class SettlementProbe<TMessage>(IMessageStore<TMessage> inner) : IMessageStore<TMessage>
{
    private readonly ConcurrentQueue<(string Kind, bool Result)> _settlements = new();
    private readonly SemaphoreSlim _signal = new(0);

    public string Name => inner.Name;

    public string MessagingSystem => inner.MessagingSystem;

    /// <summary>Waits for the next settlement and returns its kind ("ack", "release", "dead-letter") and result.</summary>
    public async Task<(string Kind, bool Result)> NextSettlementAsync()
    {
        await _signal.WaitAsync(Bounded.Patience);
        _settlements.TryDequeue(out var settlement).Should().BeTrue("a settlement was signalled");
        return settlement;
    }

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

    public async ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) =>
        Record("ack", await inner.AckAsync(lease, cancellationToken));

    public async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) =>
        Record("release", await inner.ReleaseAsync(lease, delay, cancellationToken));

    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

    public async ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) =>
        Record("dead-letter", await inner.DeadLetterAsync(lease, reason, cancellationToken));

    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
        inner.PurgeDeadLettersAsync(filter, cancellationToken);

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
        inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

    public ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default) =>
        inner.GetDeadLettersAsync(maxCount, cancellationToken);

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private bool Record(string kind, bool result)
    {
        _settlements.Enqueue((kind, result));
        _signal.Release();
        return result;
    }
}
