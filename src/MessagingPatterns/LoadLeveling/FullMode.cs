using MessagingPatterns.StoreAuthoring;

namespace MessagingPatterns;

/// <summary>What a load-leveling buffer does with a publish when it is full (and no overflow store takes the message).</summary>
public enum FullMode
{
    /// <summary>The publish waits for room, as long as the caller's token and the optional publish timeout allow. Nothing is lost.</summary>
    Wait = 0,

    /// <summary>The publish fails at once with a <see cref="QueueFullException"/>. Nothing accepted is lost.</summary>
    Reject = 1,

    /// <summary>
    /// The oldest ready message of the lowest priority level is removed to make room, after it has been reported through
    /// <see cref="LoadLevelingOptions.OnDropped"/> and the dropped metric; if every message is in flight, the incoming one
    /// is dropped instead. Needs a store that can hand that message over without waiting (the in-memory stores, SQLite,
    /// or any <see cref="IOldestReadySource{TMessage}"/>); over another store the buffer refuses to start. Loses data by
    /// design; only when asked.
    /// </summary>
    DropOldest = 2,

    /// <summary>
    /// The incoming message is not stored: the publish completes, and the message is reported through
    /// <see cref="LoadLevelingOptions.OnDropped"/> and the dropped metric. Loses data by design; only when asked.
    /// </summary>
    DropNewest = 3,
}
