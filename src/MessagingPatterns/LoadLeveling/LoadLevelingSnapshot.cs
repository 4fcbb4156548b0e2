namespace MessagingPatterns;

/// <summary>A point-in-time view of a load-leveling buffer. Rates are measured over about the last second.</summary>
public sealed record LoadLevelingSnapshot
{
    /// <summary>The queue's name.</summary>
    public required string QueueName { get; init; }

    /// <summary>When the snapshot was taken.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Messages accepted into the buffer and not yet acknowledged or dead-lettered (ready, delayed and in flight).</summary>
    public required long Depth { get; init; }

    /// <summary>The buffer's capacity in messages.</summary>
    public required int Capacity { get; init; }

    /// <summary>The estimated bytes held in the buffer, or <see langword="null"/> when no byte capacity is set.</summary>
    public long? Bytes { get; init; }

    /// <summary>The buffer's capacity in bytes, or <see langword="null"/> when none is set.</summary>
    public long? CapacityBytes { get; init; }

    /// <summary>Publishes waiting for room right now.</summary>
    public required int WaitingPublishers { get; init; }

    /// <summary>Messages in the overflow store, waiting to move into the buffer.</summary>
    public required long Overflowed { get; init; }

    /// <summary>Messages accepted per second (into the buffer or the overflow store).</summary>
    public required double ArrivalRate { get; init; }

    /// <summary>Messages acknowledged or dead-lettered per second.</summary>
    public required double ProcessingRate { get; init; }

    /// <summary>The average time the messages received in the window waited between acceptance and their first delivery.</summary>
    public required TimeSpan AverageWait { get; init; }

    /// <summary>Messages accepted since the buffer was created.</summary>
    public required long TotalArrived { get; init; }

    /// <summary>Messages acknowledged or dead-lettered since the buffer was created.</summary>
    public required long TotalProcessed { get; init; }

    /// <summary>Messages dropped by a drop <see cref="FullMode"/> since the buffer was created.</summary>
    public required long Dropped { get; init; }

    /// <summary>Publishes refused with <see cref="QueueFullException"/> since the buffer was created.</summary>
    public required long Rejected { get; init; }

    /// <summary>Messages spilled to the overflow store since the buffer was created.</summary>
    public required long TotalOverflowed { get; init; }

    /// <summary>Whether the buffer is at (or past) its capacity.</summary>
    public bool IsFull => Depth >= Capacity || (CapacityBytes is { } limit && Bytes >= limit);
}
