using System.ComponentModel.DataAnnotations;

namespace MessagingPatterns;

/// <summary>Options of the in-memory multi-queue store: one FIFO queue per priority level and a scheduler across them.</summary>
public sealed class MultiQueueOptions : IValidatableObject
{
    /// <summary>
    /// How many priority levels (queues) the store holds: messages may carry priorities 0 to <c>Levels - 1</c>;
    /// a publish with a higher priority throws <see cref="ArgumentOutOfRangeException"/>. 1 to 255. Default: 3.
    /// </summary>
    [Range(1, 255)]
    public int Levels { get; set; } = 3;

    /// <summary>How a receive picks the level it takes from. Default: <see cref="LevelScheduling.Strict"/>.</summary>
    public LevelScheduling Scheduling { get; set; } = LevelScheduling.Strict;

    /// <summary>
    /// The weight of each level, indexed by level (index 0 is priority 0), for <see cref="LevelScheduling.Weighted"/>:
    /// with all levels backlogged, level <c>i</c> gets <c>Weights[i] / sum(Weights)</c> of the receives; an empty
    /// level's share goes to the others. Required (one positive weight per level) for weighted scheduling.
    /// Default: empty.
    /// </summary>
    public IList<int> Weights { get; set; } = [];

    /// <summary>
    /// The latency target of each level (enqueue to start), indexed by level, for <see cref="LevelScheduling.Deadline"/>,
    /// e.g. <c>[5 s, 500 ms, 50 ms]</c>. Receives that start a message later than its level's target are counted
    /// as breaches in the metrics. Required (one positive target per level) for deadline scheduling. Default: empty.
    /// </summary>
    public IList<TimeSpan> LatencyTargets { get; set; } = [];

    /// <summary>
    /// The most messages the store holds (ready, delayed and in flight); a publish to a full store waits
    /// for room. <see langword="null"/> for no bound. Default: <see langword="null"/>.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int? Capacity { get; set; }

    /// <summary>Checks the rules attributes cannot express: one positive weight or target per level when given or required.</summary>
    /// <param name="validationContext">The validation context.</param>
    /// <returns>The problems found.</returns>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enum.IsDefined(Scheduling))
        {
            yield return new ValidationResult($"{nameof(Scheduling)} must be one of {string.Join(", ", Enum.GetNames<LevelScheduling>())}.", [nameof(Scheduling)]);
        }

        if (Weights is null)
        {
            yield return new ValidationResult($"{nameof(Weights)} must not be null.", [nameof(Weights)]);
        }
        else if (Weights.Count > 0 || Scheduling == LevelScheduling.Weighted)
        {
            if (Weights.Count != Levels)
            {
                yield return new ValidationResult($"{nameof(Weights)} must have one weight per level ({Levels}), not {Weights.Count}.", [nameof(Weights)]);
            }

            if (Weights.Any(w => w <= 0))
            {
                yield return new ValidationResult($"Every weight in {nameof(Weights)} must be greater than 0.", [nameof(Weights)]);
            }
        }

        if (LatencyTargets is null)
        {
            yield return new ValidationResult($"{nameof(LatencyTargets)} must not be null.", [nameof(LatencyTargets)]);
        }
        else if (LatencyTargets.Count > 0 || Scheduling == LevelScheduling.Deadline)
        {
            if (LatencyTargets.Count != Levels)
            {
                yield return new ValidationResult($"{nameof(LatencyTargets)} must have one target per level ({Levels}), not {LatencyTargets.Count}.", [nameof(LatencyTargets)]);
            }

            if (LatencyTargets.Any(t => t <= TimeSpan.Zero))
            {
                yield return new ValidationResult($"Every target in {nameof(LatencyTargets)} must be greater than zero.", [nameof(LatencyTargets)]);
            }
        }
    }
}
