namespace MessagingPatterns.StoreAuthoring;

/// <summary>
/// Argument checks shared by every <see cref="IMessageStore{TMessage}"/> implementation, so each store
/// rejects bad input the same way, naming the same parameters.
/// </summary>
public static class StoreArguments
{
    /// <summary>Checks the arguments of <see cref="IMessageStore{TMessage}.ReceiveAsync"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="buffer">The receive buffer.</param>
    /// <param name="leaseDuration">The requested lease.</param>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="leaseDuration"/> is not positive.</exception>
    public static void ThrowIfInvalidReceive<TMessage>(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration)
    {
        if (buffer.IsEmpty)
        {
            throw new ArgumentException("The buffer must have room for at least one delivery.", nameof(buffer));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
    }
}
