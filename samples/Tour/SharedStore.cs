using MessagingPatterns;

/// <summary>
/// Lets several hosts use one store without any of them disposing it when it stops: the container disposes what its
/// factory built, and the store outlives every host.
/// </summary>
public sealed class SharedStore<T>(IMessageStore<T> inner) : IMessageStore<T>
{
    public string Name => inner.Name;

    public string MessagingSystem => inner.MessagingSystem;

    public ValueTask EnqueueAsync(Message<T> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<T>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<Delivery<T>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) => inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) => inner.AckAsync(lease, cancellationToken);

    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) => inner.ReleaseAsync(lease, delay, cancellationToken);

    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) => inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) => inner.DeadLetterAsync(lease, reason, cancellationToken);

    public ValueTask<DeadLetterPage<T>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
        inner.PurgeDeadLettersAsync(filter, cancellationToken);

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
        inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
