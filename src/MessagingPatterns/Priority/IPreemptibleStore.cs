namespace MessagingPatterns;

/// <summary>
/// A store that orders by priority and lets a consumer that prefetched several messages avoid priority
/// inversion: before the consumer starts a prefetched message it asks, cheaply, whether a message that should
/// go first is ready; if so it hands back what it has not started and receives again.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// The consumer runtime uses this on its own when its store implements it, so a prefetch above 1 costs no
/// urgency. The in-memory priority stores and the SQLite store implement it; the PostgreSQL and RabbitMQ
/// stores do not, and the runtime logs a warning at start when it prefetches more than one message from a
/// store that cannot hand back.
/// </remarks>
public interface IPreemptibleStore<TMessage> : IMessageStore<TMessage>
{
    /// <summary>
    /// Whether the store would now give a ready message ahead of <paramref name="held"/>, a message this consumer
    /// holds and has not started: for a store that serves the highest priority first, whether a message of a higher
    /// priority is ready; for a store whose scheduler weighs waits (deadline, aging), whether it would now choose
    /// another level. Meant to be called before every start, so it is cheap (a bitmap or an indexed read) and may
    /// miss a publish committed a moment ago.
    /// </summary>
    /// <param name="held">The message about to start, as this store delivered it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if a ready message should go first.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="held"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    ValueTask<bool> HasReadyAheadOfAsync(Message<TMessage> held, CancellationToken cancellationToken = default);

    /// <summary>
    /// Hands back leased messages that no handler started: each is ready again at once, in its old place, and the
    /// delivery its lease counted is taken back, so handing back never brings a message nearer its dead-letter.
    /// Leases that have already ended are skipped.
    /// </summary>
    /// <param name="leases">The leases of the messages not started.</param>
    /// <param name="cancellationToken">Cancels the call; a durable store that has begun commits all or nothing.</param>
    /// <returns>How many messages were handed back.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="leases"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before anything was handed back.</exception>
    ValueTask<int> HandBackAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default);
}
