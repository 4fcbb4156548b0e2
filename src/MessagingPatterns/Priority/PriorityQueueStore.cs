using MessagingPatterns.Diagnostics;
namespace MessagingPatterns.Priority;

/// <summary>
/// The in-memory priority store (one queue that reorders): the highest priority first, FIFO within a
/// priority, and optional aging so a message never waits much past <see cref="PriorityQueueOptions.AgingMaxWait"/>
/// behind newer urgent ones.
/// </summary>
/// <remarks>
/// Aging gives the oldest message of each level an effective priority that rises linearly with its wait, from
/// its own priority to the top one at the maximum wait. Only the levels' oldest messages are compared (a
/// level's later messages are younger, so they never rank above its oldest), and equal effective priorities
/// go in arrival order: a message that has waited the maximum is served before every top-level message
/// published after it.
/// </remarks>
internal sealed class PriorityQueueStore<TMessage> : PriorityStoreBase<TMessage>
{
    private readonly long _agingMaxWaitTicks;

    // Per level, how much its effective priority (in 1/65536ths of a level) rises per tick of wait. A double:
    // the exact product of a level gap and a wait of up to a year would overflow a long.
    private readonly double[] _risePerTick;

    public PriorityQueueStore(string name, PriorityQueueOptions options, TimeProvider timeProvider, MessagingInstruments? instruments = null)
        : base(name, options.Levels, options.Capacity ?? int.MaxValue, timeProvider, instruments)
    {
        _agingMaxWaitTicks = options.AgingMaxWait?.Ticks ?? 0;
        _risePerTick = new double[options.Levels];
        for (var level = 0; level < _risePerTick.Length && _agingMaxWaitTicks > 0; level++)
        {
            _risePerTick[level] = (double)((long)(options.Levels - 1 - level) << 16) / _agingMaxWaitTicks;
        }
    }

    protected override int SelectLevel(long nowTicks, int max, out int run)
    {
        var best = HighestNonEmpty();
        if (_agingMaxWaitTicks == 0)
        {
            // The highest level stays the highest until it empties: nothing is added while a receive takes.
            run = int.MaxValue;
            return best;
        }

        // With aging, every take can change which level's oldest message ranks first, unless a level is alone.
        run = NextNonEmptyBelow(best) < 0 ? int.MaxValue : 1;
        var top = Levels - 1;
        var bestHead = Head(best);
        var bestEffective = Effective(best, top, nowTicks - bestHead.EnqueuedAtTicks);
        for (var level = NextNonEmptyBelow(best); level >= 0; level = NextNonEmptyBelow(level))
        {
            var head = Head(level);
            var effective = Effective(level, top, nowTicks - head.EnqueuedAtTicks);
            if (effective > bestEffective || (effective == bestEffective && IsOlder(head, bestHead)))
            {
                best = level;
                bestHead = head;
                bestEffective = effective;
            }
        }

        return best;
    }

    /// <summary>The effective priority after <paramref name="waitTicks"/>, in 1/65536ths of a level so aging moves smoothly.</summary>
    private long Effective(int level, int top, long waitTicks)
    {
        if (waitTicks >= _agingMaxWaitTicks)
        {
            return (long)top << 16;
        }

        // Rises linearly from the level's own value towards the top level's, reached at the maximum wait.
        var raised = waitTicks <= 0 ? 0 : (long)(waitTicks * _risePerTick[level]);
        return ((long)level << 16) + raised;
    }

    private static bool IsOlder(Message<TMessage> a, Message<TMessage> b) =>
        a.EnqueuedAt < b.EnqueuedAt || (a.EnqueuedAt == b.EnqueuedAt && a.Sequence < b.Sequence);
}
