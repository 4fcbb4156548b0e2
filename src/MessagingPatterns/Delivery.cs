namespace MessagingPatterns;

/// <summary>A message received from a store under a lease.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <param name="Message">The message.</param>
/// <param name="Lease">The lease's token: pass it to ack, release, renew or dead-letter.</param>
/// <param name="DeliveryCount">How many leases have been granted for this message, this one included (1 on first delivery).</param>
/// <param name="LeaseExpiresAt">When the lease ends unless renewed; after that the message may be delivered again.</param>
public readonly record struct Delivery<TMessage>(
    Message<TMessage> Message,
    LeaseToken Lease,
    int DeliveryCount,
    DateTimeOffset LeaseExpiresAt)
{
    // Ticks rather than a DateTimeOffset, so the struct every receive copies grows by 8 bytes, not 16.
    private readonly long _leaseGrantedTicks;

    /// <summary>
    /// When the store granted this lease, in UTC, on the clock its lease times come from (the database's for
    /// PostgreSQL); <see langword="default"/> if the store did not say. The wait before delivery is
    /// <c>LeaseGrantedAt - Message.EnqueuedAt</c>.
    /// </summary>
    public DateTimeOffset LeaseGrantedAt
    {
        get => _leaseGrantedTicks == 0 ? default : new DateTimeOffset(_leaseGrantedTicks, TimeSpan.Zero);
        init => _leaseGrantedTicks = value.UtcTicks;
    }
}
