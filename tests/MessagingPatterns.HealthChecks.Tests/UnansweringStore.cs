namespace MessagingPatterns.HealthChecks.Tests;

/// <summary>Passes every call to a real store except the statistics query, which answers only when the test lets it.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class UnansweringStore<TMessage>(IMessageStore<TMessage> inner, Task<StoreStatistics> answer) : IMessageStore<TMessage>
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

    public ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default) =>
        inner.GetDeadLettersAsync(maxCount, cancellationToken);

    public ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default) =>
        inner.RedriveAsync(messageIds, cancellationToken);

    /// <summary>Answers when the test says so, as a store behind a network partition would not.</summary>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => new(answer);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
