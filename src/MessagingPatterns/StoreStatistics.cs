namespace MessagingPatterns;

/// <summary>A snapshot of a store's contents.</summary>
/// <param name="Ready">Messages waiting to be received.</param>
/// <param name="Delayed">Messages released with a delay that are not ready yet.</param>
/// <param name="InFlight">Messages under a lease.</param>
/// <param name="DeadLettered">Messages in the dead-letter store.</param>
/// <remarks>
/// Two snapshots are equal when their counts are: <see cref="OldestReadyAge"/> is a reading of the clock when the
/// snapshot was taken, not part of what the store holds.
/// </remarks>
public readonly record struct StoreStatistics(long Ready, long Delayed, long InFlight, long DeadLettered)
{
    /// <summary>
    /// How long the oldest ready message has waited since it was published (a redelivered message counts from
    /// its first publish), on the store's clock; <see langword="null"/> when no message is ready, or when the
    /// store cannot tell (the RabbitMQ store: the broker does not say without handing the message over).
    /// A queue whose oldest message keeps getting older is not keeping up, whatever its depth.
    /// </summary>
    public TimeSpan? OldestReadyAge { get; init; }

    /// <summary>Whether <paramref name="other"/> holds the same counts; the oldest ready message's age is not compared.</summary>
    /// <param name="other">The other snapshot.</param>
    /// <returns><see langword="true"/> when every count is equal.</returns>
    public bool Equals(StoreStatistics other) =>
        Ready == other.Ready && Delayed == other.Delayed && InFlight == other.InFlight && DeadLettered == other.DeadLettered;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Ready, Delayed, InFlight, DeadLettered);

    /// <summary>The age of a message published at <paramref name="enqueuedAt"/>, as of <paramref name="now"/>; never negative.</summary>
    internal static TimeSpan? AgeOf(DateTimeOffset? enqueuedAt, DateTimeOffset now) =>
        enqueuedAt is { } at ? (now > at ? now - at : TimeSpan.Zero) : null;
}
