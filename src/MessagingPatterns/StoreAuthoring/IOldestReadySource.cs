namespace MessagingPatterns.StoreAuthoring;

/// <summary>
/// A store that can lease, without waiting, its oldest ready message of the lowest priority level that has one: the
/// message <see cref="FullMode.DropOldest"/> drops. A buffer in that mode starts only over a store that offers this.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// The in-memory stores offer it through the buffer itself; a store package implements this interface on its store.
/// </remarks>
public interface IOldestReadySource<TMessage>
{
    /// <summary>
    /// Leases the oldest ready message of the lowest priority level that has a ready message, once the store has
    /// answered, but without waiting for a message to become ready.
    /// </summary>
    /// <param name="leaseDuration">How long the message stays invisible to other receivers.</param>
    /// <param name="cancellationToken">Cancels the call; a cancelled call leases nothing.</param>
    /// <returns>The delivery, or <see langword="null"/> if no message was ready (all in flight or delayed).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="leaseDuration"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before a message was leased.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<Delivery<TMessage>?> TryLeaseOldestOfLowestPriorityAsync(TimeSpan leaseDuration, CancellationToken cancellationToken = default);
}
