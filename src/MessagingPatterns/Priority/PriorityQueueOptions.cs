using System.ComponentModel.DataAnnotations;

namespace MessagingPatterns;

/// <summary>Options of the in-memory priority store: one queue that hands out higher priorities first.</summary>
public sealed class PriorityQueueOptions
{
    /// <summary>
    /// How many priority levels the store holds: messages may carry priorities 0 to <c>Levels - 1</c>; a
    /// publish with a higher priority throws <see cref="ArgumentOutOfRangeException"/>. 1 to 255. Default: 10.
    /// </summary>
    [Range(1, 255)]
    public int Levels { get; set; } = 10;

    /// <summary>
    /// Aging: the wait after which a message is served as if it had the top priority (among the top level's
    /// messages in arrival order). Before that its effective priority rises in step with its wait, so low
    /// levels are not starved by a flood of urgent messages. <see langword="null"/> for strict priority order.
    /// Default: <see langword="null"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    public TimeSpan? AgingMaxWait { get; set; }

    /// <summary>
    /// The most messages the store holds (ready, delayed and in flight); a publish to a full store waits
    /// for room. <see langword="null"/> for no bound. Default: <see langword="null"/>.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int? Capacity { get; set; }
}
