namespace MessagingPatterns.LoadLeveling;

/// <summary>Defaults and fixed tunings of the load-leveling buffer, in one place.</summary>
internal static class LoadLevelingDefaults
{
    /// <summary>The default capacity in messages.</summary>
    public const int Capacity = 10_000;

    /// <summary>The lease taken on a message that is about to be dropped or moved; it is settled at once.</summary>
    public static readonly TimeSpan InternalLease = TimeSpan.FromSeconds(30);

    /// <summary>How often the rate window takes a sample.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The samples kept: one second of history plus the current one.</summary>
    public const int SampleCount = 11;

    /// <summary>The most overflowed messages moved back into the buffer per receive from the overflow store.</summary>
    public const int MoveBatch = 64;

    /// <summary>
    /// How many times in a row the queue's store may fail to take the message at the head of the overflow store (while
    /// answering otherwise) before that message is dead-lettered there, so that one message cannot stall the queue.
    /// </summary>
    public const int MaxFailedMoves = 5;

    /// <summary>How many times an acknowledgement in the overflow store is tried at once before the mover falls back on removing the copy when it comes back.</summary>
    public const int OverflowAckAttempts = 3;

    /// <summary>
    /// How often a buffer over a durable store counts what that store holds, while the buffer is at least half full
    /// (other processes' publishes and acks, and messages left from an earlier run, pass by its own counters).
    /// </summary>
    public static readonly TimeSpan StoreCountInterval = TimeSpan.FromSeconds(1);
}
