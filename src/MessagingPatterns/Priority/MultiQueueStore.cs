using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Priority;

/// <summary>
/// The in-memory multi-queue store (one FIFO queue per level) with strict, weighted or deadline scheduling
/// across the levels; see <see cref="LevelScheduling"/>.
/// </summary>
internal sealed class MultiQueueStore<TMessage> : PriorityStoreBase<TMessage>
{
    private readonly LevelScheduling _scheduling;
    private readonly int[] _weights;
    private readonly long[] _current;
    private readonly long[] _targetTicks;

    public MultiQueueStore(string name, MultiQueueOptions options, TimeProvider timeProvider)
        : base(name, options.Levels, options.Capacity ?? int.MaxValue, timeProvider)
    {
        _scheduling = options.Scheduling;

        // Copied once, so later changes to the options object do not reach a running store.
        _weights = options.Weights.Count == options.Levels ? [.. options.Weights] : [];
        _current = new long[options.Levels];
        _targetTicks = options.LatencyTargets.Count == options.Levels ? [.. options.LatencyTargets.Select(t => t.Ticks)] : [];
    }

    protected override int SelectLevel(long nowTicks) => _scheduling switch
    {
        LevelScheduling.Weighted => SelectWeighted(),
        LevelScheduling.Deadline => SelectDeadline(nowTicks),
        _ => HighestNonEmpty(),
    };

    protected override void OnFirstStart(Message<TMessage> message, int level, long waitTicks)
    {
        base.OnFirstStart(message, level, waitTicks);
        if (_targetTicks.Length > 0 && waitTicks > _targetTicks[level])
        {
            PriorityMetrics.TargetBreached(Name, level);
        }
    }

    /// <summary>
    /// Smooth weighted round-robin (as in nginx) over the non-empty levels only, so an idle level's share goes
    /// to the busy ones: each level earns its weight per pick, the richest is picked and pays the total.
    /// Ties go to the higher level.
    /// </summary>
    private int SelectWeighted()
    {
        var best = -1;
        long total = 0;
        for (var level = HighestNonEmpty(); level >= 0; level = NextNonEmptyBelow(level))
        {
            _current[level] += _weights[level];
            total += _weights[level];
            if (best < 0 || _current[level] > _current[best])
            {
                best = level;
            }
        }

        _current[best] -= total;
        return best;
    }

    /// <summary>
    /// Earliest deadline first over the levels' oldest messages. When the most urgent one is already past its
    /// target, deadlines can no longer all be met (overload), and serving the latest first would make every level
    /// late; strict order then keeps the higher levels on target and lets the lower ones degrade, in order.
    /// </summary>
    private int SelectDeadline(long nowTicks)
    {
        var top = HighestNonEmpty();
        var best = top;
        var bestSlack = long.MaxValue;
        for (var level = top; level >= 0; level = NextNonEmptyBelow(level))
        {
            var slack = _targetTicks[level] - (nowTicks - Head(level).EnqueuedAtTicks);
            if (slack < bestSlack)
            {
                best = level;
                bestSlack = slack;
            }
        }

        return bestSlack < 0 ? top : best;
    }
}
