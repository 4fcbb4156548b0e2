namespace MessagingPatterns.Priority;

/// <summary>What the per-level waiting-count gauge reads from a priority store, whatever its message type.</summary>
internal interface IPriorityGaugeSource
{
    string Name { get; }

    int Levels { get; }

    bool IsDisposed { get; }

    int WaitingAt(int level);
}
