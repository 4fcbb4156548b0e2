namespace MessagingPatterns;

/// <summary>
/// What a handler sees of one delivery: the message, its delivery details, and explicit settlement
/// (retry after a delay, dead-letter now). Valid only during <see cref="IConsumer{TMessage}.ConsumeAsync"/>;
/// the runtime reuses the instance for the next message.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public sealed class MessageContext<TMessage>
{
    private Delivery<TMessage> _delivery;

    internal MessageContext(string queueName) => QueueName = queueName;

    /// <summary>The queue the message came from.</summary>
    public string QueueName { get; }

    /// <summary>The message.</summary>
    public Message<TMessage> Message => _delivery.Message;

    /// <summary>The payload.</summary>
    public TMessage Body => _delivery.Message.Body;

    /// <summary>The message id.</summary>
    public string MessageId => _delivery.Message.Id;

    /// <summary>The message's priority.</summary>
    public int Priority => _delivery.Message.Priority;

    /// <summary>The message's headers.</summary>
    public IReadOnlyDictionary<string, string> Headers => _delivery.Message.Headers;

    /// <summary>When the store accepted the message.</summary>
    public DateTimeOffset EnqueuedAt => _delivery.Message.EnqueuedAt;

    /// <summary>Which delivery this is: 1 the first time, higher after a retry, a release or an expired lease.</summary>
    public int DeliveryCount => _delivery.DeliveryCount;

    /// <summary>The current delivery, with its lease.</summary>
    public Delivery<TMessage> Delivery => _delivery;

    /// <summary>
    /// The services of the current attempt's DI scope: each attempt at a message gets a scope of its own, created
    /// when the attempt first asks for a service that is not a singleton, and disposed when the attempt ends.
    /// </summary>
    public IServiceProvider Services { get; internal set; } = EmptyServiceProvider.Instance;

    internal Settlement Settlement { get; private set; }

    internal TimeSpan RetryDelay { get; private set; }

    internal string? DeadLetterReason { get; private set; }

    /// <summary>
    /// Settles the message as "try again later": once the handler returns, the message is released and
    /// delivered again after <paramref name="delay"/> (or dead-lettered if this was the last attempt).
    /// </summary>
    /// <param name="delay">How long to wait before the next delivery.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public void RetryAfter(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Settlement = Settlement.Retry;
        RetryDelay = delay;
    }

    /// <summary>Settles the message as "never going to work": once the handler returns, it is dead-lettered with the reason.</summary>
    /// <param name="reason">Why; shown when the dead-letter store is browsed.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is null, empty or white space.</exception>
    public void DeadLetter(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        Settlement = Settlement.DeadLetter;
        DeadLetterReason = reason;
    }

    internal void Reset(in Delivery<TMessage> delivery)
    {
        _delivery = delivery;
        Services = EmptyServiceProvider.Instance;
        ResetSettlement();
    }

    /// <summary>Forgets what an earlier attempt at this delivery asked for: the attempt that finishes decides.</summary>
    internal void ResetSettlement()
    {
        Settlement = Settlement.Ack;
        RetryDelay = TimeSpan.Zero;
        DeadLetterReason = null;
    }

    private sealed class EmptyServiceProvider : IServiceProvider
    {
        public static readonly EmptyServiceProvider Instance = new();

        public object? GetService(Type serviceType) => null;
    }
}
