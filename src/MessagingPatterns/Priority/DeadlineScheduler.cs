namespace MessagingPatterns.Priority;

/// <summary>
/// Earliest deadline first over the levels' oldest messages. When the most urgent one is already past its target,
/// deadlines can no longer all be met (overload), and serving the latest first would make every level late; strict
/// order then keeps the higher levels on target and lets the lower ones degrade, in order.
/// </summary>
internal sealed class DeadlineScheduler(long[] targetTicks) : LevelScheduler
{
    public override LevelScheduler ForStore(int levels)
    {
        if (targetTicks.Length != levels)
        {
            throw new ArgumentException($"The deadline scheduler has {targetTicks.Length} latency targets; a store of {levels} levels needs one per level.", nameof(levels));
        }

        return this;
    }

    /// <remarks>
    /// The run is how many of the chosen level's messages this rule picks in a row: within one receive the clock
    /// stands still and only the chosen level's head moves, so the other levels' slack is fixed and the chosen
    /// level's next messages are compared with the runner-up's once, here, instead of on every pick.
    /// </remarks>
    public override int SelectLevel(ReadyLevels ready, int max, out int run)
    {
        var nowTicks = ready.NowTicks;
        var top = ready.Highest;
        int best = -1, runnerUp = -1;
        long bestSlack = long.MaxValue, runnerUpSlack = long.MaxValue;
        for (var level = top; level >= 0; level = ready.NextBelow(level))
        {
            // Ties go to the higher level, which comes first.
            var slack = Slack(ready.OldestTicks(level), level, nowTicks);
            if (best < 0 || slack < bestSlack)
            {
                (runnerUp, runnerUpSlack) = (best, bestSlack);
                (best, bestSlack) = (level, slack);
            }
            else if (runnerUp < 0 || slack < runnerUpSlack)
            {
                (runnerUp, runnerUpSlack) = (level, slack);
            }
        }

        // Alone, or overloaded by a late message the top level outranks: the top level until it empties.
        if (runnerUp < 0 || runnerUpSlack < 0 || (bestSlack < 0 && best != top))
        {
            run = int.MaxValue;
            return top;
        }

        // Count the chosen level's next messages that the rule would still pick over the runner-up.
        run = 1;
        object? cursor = null;
        while (run < max && ready.TryNext(best, ref cursor, out var enqueuedTicks))
        {
            var slack = Slack(enqueuedTicks, best, nowTicks);
            var keeps = best == top
                ? slack <= runnerUpSlack
                : slack >= 0 && (slack < runnerUpSlack || (slack == runnerUpSlack && best > runnerUp));
            if (!keeps)
            {
                break;
            }

            run++;
        }

        return best;
    }

    /// <summary>
    /// The rule of <see cref="SelectLevel"/> with the held message standing for its level: another level goes first
    /// only if its oldest message has less slack (ties to the higher level), or if a late message makes the store
    /// serve the top level and the held one is not of it. Slacks all shrink with the clock alike, so a lower level
    /// chosen for its nearer deadline stays chosen until a more urgent message arrives.
    /// </summary>
    public override bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt)
    {
        var nowTicks = ready.NowTicks;
        int best = level, top = level;
        var bestSlack = Slack(enqueuedAt.UtcTicks, level, nowTicks);
        var runnerUpSlack = long.MaxValue;
        var others = false;
        for (var other = ready.Highest; other >= 0; other = ready.NextBelow(other))
        {
            if (other == level)
            {
                continue;
            }

            others = true;
            top = Math.Max(top, other);
            var slack = Slack(ready.OldestTicks(other), other, nowTicks);
            if (slack < bestSlack || (slack == bestSlack && other > best))
            {
                runnerUpSlack = bestSlack;
                (best, bestSlack) = (other, slack);
            }
            else
            {
                runnerUpSlack = Math.Min(runnerUpSlack, slack);
            }
        }

        if (!others)
        {
            return false;
        }

        var chosen = runnerUpSlack < 0 || (bestSlack < 0 && best != top) ? top : best;
        return chosen != level;
    }

    internal override bool IsLate(int level, long waitTicks) => waitTicks > targetTicks[level];

    private long Slack(long enqueuedTicks, int level, long nowTicks) => targetTicks[level] - (nowTicks - enqueuedTicks);
}
