namespace MessagingPatterns;

/// <summary>How a multi-queue store (one queue per priority level) picks the level of the next receive.</summary>
public enum LevelScheduling
{
    /// <summary>Always the highest non-empty level: lower levels wait while higher ones have messages.</summary>
    Strict = 0,

    /// <summary>
    /// Smooth weighted round-robin over the non-empty levels by <see cref="MultiQueueOptions.Weights"/>
    /// (e.g. 70/20/10 of receives), so every backlogged level gets its share and none starves.
    /// </summary>
    Weighted = 1,

    /// <summary>
    /// Earliest deadline first by <see cref="MultiQueueOptions.LatencyTargets"/>: the level whose oldest
    /// message is closest to its latency target is served. Once a level's oldest message is already past its
    /// target (overload), the highest non-empty level is served instead, so the lower levels degrade first,
    /// in order, rather than every level missing its target.
    /// </summary>
    Deadline = 2,
}
