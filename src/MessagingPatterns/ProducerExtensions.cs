namespace MessagingPatterns;

/// <summary>Convenience members for <see cref="IProducer{TMessage}"/>.</summary>
public static class ProducerExtensions
{
    /// <summary>Publishes a body as a new message with a generated id.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="producer">The producer.</param>
    /// <param name="body">The payload.</param>
    /// <param name="priority">0 (lowest, the default) up to the store's highest level.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <exception cref="ArgumentNullException"><paramref name="producer"/> or <paramref name="body"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is out of range.</exception>
    public static ValueTask PublishAsync<TMessage>(
        this IProducer<TMessage> producer,
        TMessage body,
        int priority = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(producer);
        return producer.PublishAsync(new Message<TMessage>(body, priority: priority), cancellationToken);
    }
}
