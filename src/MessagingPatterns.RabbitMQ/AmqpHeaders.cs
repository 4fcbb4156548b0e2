namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// The AMQP headers the store writes beside the application's own. Their prefix is reserved: a message
/// carrying a header that starts with it is refused at publish, so an application header can never be
/// mistaken for one of these.
/// </summary>
internal static class AmqpHeaders
{
    public const string ReservedPrefix = "mp.";

    /// <summary>The message id (a header rather than <c>message-id</c>, which holds at most 255 bytes).</summary>
    public const string Id = "mp.id";

    /// <summary>When the message was first accepted, in UTC ticks; kept through releases and redrives.</summary>
    public const string EnqueuedAt = "mp.enqueued-at";

    /// <summary>How many leases were granted before this copy was published (0 for a fresh publish).</summary>
    public const string Deliveries = "mp.deliveries";

    /// <summary>Why a message was dead-lettered (dead-letter queue only).</summary>
    public const string Reason = "mp.dead-letter-reason";

    /// <summary>When a message was dead-lettered, in UTC ticks (dead-letter queue only).</summary>
    public const string DeadLetteredAt = "mp.dead-lettered-at";

    /// <summary>
    /// A dead-letter entry's position for paging (dead-letter queue only): the dead-letter time and a counter,
    /// fixed-width, so ordinal order follows the dead-letter order.
    /// </summary>
    public const string DeadLetterKey = "mp.dead-letter-key";
}
