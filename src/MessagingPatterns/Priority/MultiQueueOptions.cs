using System.ComponentModel.DataAnnotations;
using MessagingPatterns.Priority;

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

    /// <summary>
    /// How a receive picks the level it takes from, as a shortcut for the library's schedulers configured by the
    /// obsolete, lowest-first <see cref="Weights"/> and <see cref="LatencyTargets"/>; prefer <see cref="Scheduler"/>.
    /// Default: <see cref="LevelScheduling.Strict"/>.
    /// </summary>
    public LevelScheduling Scheduling { get; set; } = LevelScheduling.Strict;

    /// <summary>
    /// The scheduler that picks the level of each receive, e.g. <c>LevelScheduler.Weighted(70, 20, 10)</c> (weights
    /// from the highest level down) or one of your own; when set, leave <see cref="Scheduling"/>, <see cref="Weights"/>
    /// and <see cref="LatencyTargets"/> at their defaults. <see langword="null"/> to use <see cref="Scheduling"/>.
    /// Default: <see langword="null"/>.
    /// </summary>
    public LevelScheduler? Scheduler { get; set; }

    // The obsolete properties' names for validation messages (nameof would use them, and warn).
    private const string WeightsName = "Weights";
    private const string LatencyTargetsName = "LatencyTargets";

    private IList<int> _weights = [];
    private IList<TimeSpan> _latencyTargets = [];

    /// <summary>
    /// The weight of each level, indexed by level, <b>lowest level first</b> (index 0 is priority 0), for
    /// <see cref="LevelScheduling.Weighted"/>: with all levels backlogged, level <c>i</c> gets
    /// <c>Weights[i] / sum(Weights)</c> of the receives; an empty level's share goes to the others. Required (one
    /// positive weight per level) for weighted scheduling. Obsolete: 70/20/10 is written <c>[10, 20, 70]</c> here,
    /// so use <c>Scheduler = LevelScheduler.Weighted(70, 20, 10)</c>, from the highest level down. Default: empty.
    /// </summary>
    [Obsolete("Lowest level first, so 70/20/10 is written [10, 20, 70]. Use Scheduler = LevelScheduler.Weighted(70, 20, 10), written from the highest level down.")]
    public IList<int> Weights
    {
        get => _weights;
        set => _weights = value;
    }

    /// <summary>
    /// The latency target of each level (enqueue to start), indexed by level, <b>lowest level first</b>, for
    /// <see cref="LevelScheduling.Deadline"/>, e.g. <c>[5 s, 500 ms, 50 ms]</c>. Receives that start a message later
    /// than its level's target are counted as breaches in the metrics. Required (one positive target per level) for
    /// deadline scheduling. Obsolete: use <c>Scheduler = LevelScheduler.Deadline(50 ms, 500 ms, 5 s)</c>, from the
    /// highest level down. Default: empty.
    /// </summary>
    [Obsolete("Lowest level first. Use Scheduler = LevelScheduler.Deadline(top, ..., bottom), written from the highest level down.")]
    public IList<TimeSpan> LatencyTargets
    {
        get => _latencyTargets;
        set => _latencyTargets = value;
    }

    /// <summary>
    /// The most messages the store holds (ready, delayed and in flight); a publish to a full store waits
    /// for room. <see langword="null"/> for no bound. Default: <see langword="null"/>.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int? Capacity { get; set; }

    /// <summary>The scheduler these options describe: <see cref="Scheduler"/>, or the one <see cref="Scheduling"/> names.</summary>
    internal LevelScheduler ToScheduler() => Scheduler ?? Scheduling switch
    {
        LevelScheduling.Weighted => new WeightedScheduler([.. _weights]),
        LevelScheduling.Deadline => new DeadlineScheduler([.. _latencyTargets.Select(t => t.Ticks)]),
        _ => LevelScheduler.Strict,
    };

    /// <summary>Checks the rules attributes cannot express: one positive weight or target per level when given or required.</summary>
    /// <param name="validationContext">The validation context.</param>
    /// <returns>The problems found.</returns>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enum.IsDefined(Scheduling))
        {
            yield return new ValidationResult($"{nameof(Scheduling)} must be one of {string.Join(", ", Enum.GetNames<LevelScheduling>())}.", [nameof(Scheduling)]);
        }

        if (Scheduler is not null)
        {
            if (Scheduling != LevelScheduling.Strict || _weights is not { Count: 0 } || _latencyTargets is not { Count: 0 })
            {
                yield return new ValidationResult(
                    $"Set either {nameof(Scheduler)} or {nameof(Scheduling)} (with {WeightsName} or {LatencyTargetsName}), not both.",
                    [nameof(Scheduler), nameof(Scheduling)]);
            }

            string? misfit = null;
            try
            {
                Scheduler.ForStore(Levels);
            }
            catch (ArgumentException ex)
            {
                misfit = ex.Message;
            }

            if (misfit is not null)
            {
                yield return new ValidationResult($"{nameof(Scheduler)} does not fit {Levels} levels: {misfit}", [nameof(Scheduler)]);
            }

            yield break;
        }

        if (_weights is null)
        {
            yield return new ValidationResult($"{WeightsName} must not be null.", [WeightsName]);
        }
        else if (_weights.Count > 0 || Scheduling == LevelScheduling.Weighted)
        {
            if (_weights.Count != Levels)
            {
                yield return new ValidationResult($"{WeightsName} must have one weight per level ({Levels}), not {_weights.Count}.", [WeightsName]);
            }

            if (_weights.Any(w => w <= 0))
            {
                yield return new ValidationResult($"Every weight in {WeightsName} must be greater than 0.", [WeightsName]);
            }
        }

        if (_latencyTargets is null)
        {
            yield return new ValidationResult($"{LatencyTargetsName} must not be null.", [LatencyTargetsName]);
        }
        else if (_latencyTargets.Count > 0 || Scheduling == LevelScheduling.Deadline)
        {
            if (_latencyTargets.Count != Levels)
            {
                yield return new ValidationResult($"{LatencyTargetsName} must have one target per level ({Levels}), not {_latencyTargets.Count}.", [LatencyTargetsName]);
            }

            if (_latencyTargets.Any(t => t <= TimeSpan.Zero))
            {
                yield return new ValidationResult($"Every target in {LatencyTargetsName} must be greater than zero.", [LatencyTargetsName]);
            }
        }
    }
}
