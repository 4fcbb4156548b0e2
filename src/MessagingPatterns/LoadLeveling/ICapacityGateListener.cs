namespace MessagingPatterns.LoadLeveling;

/// <summary>What a <see cref="CapacityGate"/> asks of the buffer around it, always under the gate's lock.</summary>
internal interface ICapacityGateListener
{
    /// <summary>
    /// Gets whether publishes and settles must take the lock for a reason of the buffer's own (messages wait in an
    /// overflow store, or a first count of a durable store is pending).
    /// </summary>
    bool KeepsSlowPath { get; }

    /// <summary>Called after room may have freed and the waiting publishes were served.</summary>
    void RoomFreed();
}
