namespace MessagingPatterns;

/// <summary>Publishes messages to a queue.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// A publish completes only once the store has accepted the message (for durable stores: committed or
/// confirmed). A publish that cannot be accepted throws; it never drops. If it throws or is cancelled the
/// outcome may be uncertain: publish again with the same <see cref="Message{TMessage}.Id"/>.
/// </remarks>
public interface IProducer<TMessage>
{
    /// <summary>The queue this producer publishes to.</summary>
    string QueueName { get; }

    /// <summary>Publishes one message.</summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the publish; a token already cancelled publishes nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The queue's store was disposed.</exception>
    ValueTask PublishAsync(Message<TMessage> message, CancellationToken cancellationToken = default);

    /// <summary>Publishes several messages, all or none.</summary>
    /// <param name="messages">The messages.</param>
    /// <param name="cancellationToken">Cancels the publish; a token already cancelled publishes nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> or an item is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The queue's store was disposed.</exception>
    ValueTask PublishBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default);
}
