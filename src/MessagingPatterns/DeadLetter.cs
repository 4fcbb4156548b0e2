namespace MessagingPatterns;

/// <summary>A message in a store's dead-letter store, with why it is there.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// A durable store lists a message whose stored body could not be read back too: then
/// <see cref="Message"/> is <see langword="null"/> and <see cref="RawBody"/> holds the stored bytes, so an
/// operator can inspect, purge or redrive it (for example once a reader that understands it is deployed).
/// </remarks>
public sealed record DeadLetter<TMessage>
{
    /// <summary>Creates the entry of a message that was read.</summary>
    /// <param name="message">The message, with its priority and headers.</param>
    /// <param name="reason">Why it was dead-lettered.</param>
    /// <param name="deliveryCount">How many deliveries it had.</param>
    /// <param name="deadLetteredAt">When it was dead-lettered.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> or <paramref name="reason"/> is <see langword="null"/>.</exception>
    public DeadLetter(Message<TMessage> message, string reason, int deliveryCount, DateTimeOffset deadLetteredAt)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(reason);
        Message = message;
        MessageId = message.Id;
        Priority = message.Priority;
        EnqueuedAt = message.EnqueuedAt;
        Reason = reason;
        DeliveryCount = deliveryCount;
        DeadLetteredAt = deadLetteredAt;
    }

    /// <summary>Creates the entry of a message whose stored body could not be read.</summary>
    /// <param name="messageId">The message's id.</param>
    /// <param name="priority">The message's priority.</param>
    /// <param name="enqueuedAt">When the store first accepted the message.</param>
    /// <param name="rawBody">The stored bytes of the body.</param>
    /// <param name="reason">Why it was dead-lettered (why the body could not be read).</param>
    /// <param name="deliveryCount">How many deliveries it had.</param>
    /// <param name="deadLetteredAt">When it was dead-lettered.</param>
    /// <exception cref="ArgumentNullException"><paramref name="messageId"/> or <paramref name="reason"/> is <see langword="null"/>.</exception>
    public DeadLetter(string messageId, int priority, DateTimeOffset enqueuedAt, ReadOnlyMemory<byte> rawBody, string reason, int deliveryCount, DateTimeOffset deadLetteredAt)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        ArgumentNullException.ThrowIfNull(reason);
        MessageId = messageId;
        Priority = priority;
        EnqueuedAt = enqueuedAt;
        RawBody = rawBody;
        Reason = reason;
        DeliveryCount = deliveryCount;
        DeadLetteredAt = deadLetteredAt;
    }

    /// <summary>The message, with its priority and headers; <see langword="null"/> when its stored body could not be read (see <see cref="RawBody"/>).</summary>
    public Message<TMessage>? Message { get; }

    /// <summary>The message's id.</summary>
    public string MessageId { get; }

    /// <summary>The message's priority.</summary>
    public int Priority { get; }

    /// <summary>When the store first accepted the message.</summary>
    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>The stored bytes of a body that could not be read; <see langword="null"/> when <see cref="Message"/> is set.</summary>
    public ReadOnlyMemory<byte>? RawBody { get; }

    /// <summary>Why it was dead-lettered, e.g. the last exception's type and message.</summary>
    public string Reason { get; }

    /// <summary>How many deliveries it had.</summary>
    public int DeliveryCount { get; }

    /// <summary>When it was dead-lettered.</summary>
    public DateTimeOffset DeadLetteredAt { get; }
}
