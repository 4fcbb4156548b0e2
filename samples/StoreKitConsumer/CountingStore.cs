using MessagingPatterns;

namespace StoreKitConsumer;

/// <summary>
/// A third party's store: it counts the messages it accepted and hands everything else to another store.
/// Small on purpose; what matters is that the kit holds it to the whole store contract.
/// </summary>
public sealed class CountingStore<TMessage>(IMessageStore<TMessage> inner) : IMessageStore<TMessage>
{
    private long _accepted;

    /// <summary>How many messages this store accepted.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    public string Name => inner.Name;

    // Forwarded, so the queue's metrics and spans name the system that really holds the messages.
    public string MessagingSystem => inner.MessagingSystem;

    public async ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        await inner.EnqueueAsync(message, cancellationToken);
        Interlocked.Increment(ref _accepted);
    }

    public async ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        await inner.EnqueueBatchAsync(messages, cancellationToken);
        Interlocked.Add(ref _accepted, messages.Count);
    }

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

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
