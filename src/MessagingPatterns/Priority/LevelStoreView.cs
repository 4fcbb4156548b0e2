namespace MessagingPatterns.Priority;

/// <summary>
/// One level of a priority store, for a dedicated consumer pool: receives take only that level; everything
/// else goes to the whole store. It owns nothing, so disposing it leaves the store open.
/// </summary>
internal sealed class LevelStoreView<TMessage>(LevelQueueStore<TMessage> store, int level) : IMessageStore<TMessage>
{
    public string Name => store.Name;

    public string MessagingSystem => store.MessagingSystem;

    /// <summary>The level this view receives.</summary>
    public int Level => level;

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default) =>
        store.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default) =>
        store.EnqueueBatchAsync(messages, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        store.ReceiveLevelAsync(buffer, leaseDuration, level, cancellationToken);

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) =>
        store.AckAsync(lease, cancellationToken);

    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) =>
        store.ReleaseAsync(lease, delay, cancellationToken);

    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        store.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) =>
        store.DeadLetterAsync(lease, reason, cancellationToken);

    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        store.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
        store.PurgeDeadLettersAsync(filter, cancellationToken);

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
        store.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        store.GetStatisticsAsync(cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
