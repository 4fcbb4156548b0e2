namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// A store registered by its owner rather than built by the container: every call goes to it except
/// <see cref="DisposeAsync"/>, so the first host to stop does not dispose it for the others sharing it.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal class BorrowedStore<TMessage>(IMessageStore<TMessage> inner) : IMessageStore<TMessage>
{
    /// <summary>A borrowed <paramref name="inner"/> that keeps its ability to hand back unstarted messages, if it has it.</summary>
    public static BorrowedStore<TMessage> For(IMessageStore<TMessage> inner) =>
        inner is IPreemptibleStore<TMessage> preemptible ? new PreemptibleBorrowedStore<TMessage>(preemptible) : new BorrowedStore<TMessage>(inner);

    public string Name => inner.Name;

    public string MessagingSystem => inner.MessagingSystem;

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) => inner.AckAsync(lease, cancellationToken);

    public ValueTask<IReadOnlyList<bool>> AckBatchAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default) => inner.AckBatchAsync(leases, cancellationToken);

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

    public ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default) =>
        inner.GetDeadLettersAsync(maxCount, cancellationToken);

    public ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default) =>
        inner.RedriveAsync(messageIds, cancellationToken);

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    /// <summary>Does nothing: the store's owner disposes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
