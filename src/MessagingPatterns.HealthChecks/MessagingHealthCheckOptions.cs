namespace MessagingPatterns;

/// <summary>
/// When a queue's health check reports <c>Degraded</c> or <c>Unhealthy</c>. Configure every queue's through
/// <c>AddMessagingHealthChecks(options => ...)</c>, and one queue's through the options named after it
/// (<c>services.Configure&lt;MessagingHealthCheckOptions&gt;("orders", options => ...)</c>).
/// </summary>
public sealed class MessagingHealthCheckOptions
{
    /// <summary>
    /// Degraded when more messages than this are ready (waiting to be received). Zero or more;
    /// <see langword="null"/> for no depth threshold. Default: <see langword="null"/>.
    /// </summary>
    public long? ReadyThreshold { get; set; }

    /// <summary>
    /// Degraded when the oldest ready message has waited longer than this since it was published. Positive;
    /// <see langword="null"/> for no age threshold. On a store that cannot tell the age (RabbitMQ), only the
    /// depth threshold applies. Default: <see langword="null"/>.
    /// </summary>
    public TimeSpan? OldestReadyAgeThreshold { get; set; }

    /// <summary>
    /// Unhealthy when the store has not answered the check's statistics query within this. Positive. Default: 5 seconds.
    /// </summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Rewrites the message of a store's exception (and of its inner exceptions) before the check logs it or puts
    /// it on the result's <c>Exception</c>, which health endpoints often serialize: such messages may carry personal
    /// data or secrets. The type and stack trace are kept; a hook that throws hides the whole text.
    /// <see langword="null"/> for none. Default: <see langword="null"/>.
    /// </summary>
    public Func<string, string>? Redact { get; set; }
}
