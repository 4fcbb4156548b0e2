namespace MessagingPatterns.Priority;

/// <summary>
/// Highest level first with aging: the oldest message of each level has an effective priority that rises linearly
/// with its wait, from its own level to the top one at the maximum wait.
/// </summary>
/// <remarks>
/// Only the levels' oldest messages are compared (a level's later messages are younger, so they never rank above
/// its oldest), and equal effective priorities go in arrival order: a message that has waited the maximum is served
/// before every top-level message published after it.
/// </remarks>
internal sealed class AgingScheduler : LevelScheduler
{
    private readonly long _maxWaitTicks;

    // Per level, how much its effective priority (in 1/65536ths of a level) rises per tick of wait. A double: the
    // exact product of a level gap and a wait of up to a year would overflow a long.
    private readonly double[] _risePerTick;

    public AgingScheduler(long maxWaitTicks, int levels)
    {
        _maxWaitTicks = maxWaitTicks;
        _risePerTick = new double[levels];
        for (var level = 0; level < levels; level++)
        {
            _risePerTick[level] = (double)((long)(levels - 1 - level) << 16) / maxWaitTicks;
        }
    }

    public override LevelScheduler ForStore(int levels) =>
        levels == _risePerTick.Length ? this : new AgingScheduler(_maxWaitTicks, levels);

    public override int SelectLevel(ReadyLevels ready, int max, out int run)
    {
        var best = ready.Highest;

        // Every take can change which level's oldest message ranks first, unless a level is alone.
        run = ready.NextBelow(best) < 0 ? int.MaxValue : 1;
        var nowTicks = ready.NowTicks;
        var top = ready.Levels - 1;
        var bestTicks = ready.OldestTicks(best);
        var bestEffective = Effective(best, top, nowTicks - bestTicks);
        for (var level = ready.NextBelow(best); level >= 0; level = ready.NextBelow(level))
        {
            var ticks = ready.OldestTicks(level);
            var effective = Effective(level, top, nowTicks - ticks);
            if (effective > bestEffective || (effective == bestEffective && IsOlder(ready, level, ticks, best, bestTicks)))
            {
                best = level;
                bestTicks = ticks;
                bestEffective = effective;
            }
        }

        return best;
    }

    /// <summary>
    /// The rule of <see cref="SelectLevel"/> with the held message standing for its level: another level goes first
    /// only if its oldest message's effective priority is higher, or equal and it is older. An aged low message
    /// chosen over fresh urgent ones is therefore kept, not handed back for them.
    /// </summary>
    public override bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt)
    {
        var nowTicks = ready.NowTicks;
        var top = ready.Levels - 1;
        var heldTicks = enqueuedAt.UtcTicks;
        var held = Effective(level, top, nowTicks - heldTicks);
        for (var other = ready.Highest; other >= 0; other = ready.NextBelow(other))
        {
            if (other == level)
            {
                continue;
            }

            var ticks = ready.OldestTicks(other);
            var effective = Effective(other, top, nowTicks - ticks);
            if (effective > held || (effective == held && ticks < heldTicks))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsOlder(ReadyLevels ready, int level, long ticks, int other, long otherTicks) =>
        ticks < otherTicks || (ticks == otherTicks && ready.OldestSequence(level) < ready.OldestSequence(other));

    /// <summary>The effective priority after <paramref name="waitTicks"/>, in 1/65536ths of a level so aging moves smoothly.</summary>
    private long Effective(int level, int top, long waitTicks)
    {
        if (waitTicks >= _maxWaitTicks)
        {
            return (long)top << 16;
        }

        // Rises linearly from the level's own value towards the top level's, reached at the maximum wait.
        var raised = waitTicks <= 0 ? 0 : (long)(waitTicks * _risePerTick[level]);
        return ((long)level << 16) + raised;
    }
}
