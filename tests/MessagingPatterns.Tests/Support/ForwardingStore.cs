namespace MessagingPatterns.Tests.Support;

/// <summary>A store that passes every call to another; tests override the calls they need to watch or hold up.</summary>
internal class ForwardingStore<TMessage>(IMessageStore<TMessage> inner) : IMessageStore<TMessage>
{
    public string Name => inner.Name;

    public string MessagingSystem => inner.MessagingSystem;

    public virtual ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

    public virtual ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

    public virtual ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) => inner.AckAsync(lease, cancellationToken);

    public virtual ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) => inner.ReleaseAsync(lease, delay, cancellationToken);

    public virtual ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) => inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

    public virtual ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) => inner.DeadLetterAsync(lease, reason, cancellationToken);

    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
        inner.PurgeDeadLettersAsync(filter, cancellationToken);

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
        inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

    public virtual ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
