namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// A delivery handed to a receiver. AMQP has no lease: the broker keeps a delivery until its channel acks
/// or closes. The store adds one on the client: a timer that, unless renewed, ends the lease and returns
/// the message to the queue, after which the old token changes nothing.
/// </summary>
internal sealed class Lease<TMessage>(long id, Inbound<TMessage> inbound, int deliveryCount, DateTimeOffset expiresAt)
{
    private readonly Lock _lock = new();
    private bool _ended;

    public long Id { get; } = id;

    public Inbound<TMessage> Inbound { get; } = inbound;

    public int DeliveryCount { get; } = deliveryCount;

    public DateTimeOffset ExpiresAt { get; private set; } = expiresAt;

    public ITimer? Timer { get; set; }

    /// <summary>Extends the lease; <see langword="false"/> if it had ended.</summary>
    public bool TryRenew(DateTimeOffset expiresAt, TimeSpan duration)
    {
        lock (_lock)
        {
            if (_ended)
            {
                return false;
            }

            ExpiresAt = expiresAt;
            Timer?.Change(duration, Timeout.InfiniteTimeSpan);
            return true;
        }
    }

    /// <summary>Ends the lease once; <see langword="false"/> if it had ended already, or if <paramref name="now"/> is given and the lease was renewed past it.</summary>
    public bool TryEnd(DateTimeOffset? now = null)
    {
        lock (_lock)
        {
            if (_ended || (now is { } at && at < ExpiresAt))
            {
                return false;
            }

            _ended = true;
        }

        Timer?.Dispose();
        return true;
    }
}
