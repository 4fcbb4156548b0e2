namespace MessagingPatterns;

/// <summary>A snapshot of a store's contents.</summary>
/// <param name="Ready">Messages waiting to be received.</param>
/// <param name="Delayed">Messages released with a delay that are not ready yet.</param>
/// <param name="InFlight">Messages under a lease.</param>
/// <param name="DeadLettered">Messages in the dead-letter store.</param>
public readonly record struct StoreStatistics(long Ready, long Delayed, long InFlight, long DeadLettered);
