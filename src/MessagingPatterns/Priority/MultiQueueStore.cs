using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Priority;

/// <summary>
/// The in-memory multi-queue store (one FIFO queue per level) with strict, weighted or deadline scheduling
/// across the levels; see <see cref="LevelScheduling"/>.
/// </summary>
internal sealed class MultiQueueStore<TMessage> : PriorityStoreBase<TMessage>
{
    private readonly LevelScheduling _scheduling;
    private readonly Share[] _shares;
    private readonly WeightedCycle? _cycle;
    private readonly long[] _targetTicks;

    public MultiQueueStore(string name, MultiQueueOptions options, TimeProvider timeProvider, MessagingInstruments? instruments = null)
        : base(name, options.Levels, options.Capacity ?? int.MaxValue, timeProvider, instruments)
    {
        _scheduling = options.Scheduling;

        // Copied once, so later changes to the options object do not reach a running store.
        _shares = options.Weights.Count == options.Levels ? [.. options.Weights.Select(w => new Share { Weight = w })] : [];
        _cycle = _scheduling == LevelScheduling.Weighted ? WeightedCycle.TryCreate([.. options.Weights]) : null;
        _targetTicks = options.LatencyTargets.Count == options.Levels ? [.. options.LatencyTargets.Select(t => t.Ticks)] : [];
    }

    protected override int SelectLevel(long nowTicks, int max, out int run)
    {
        switch (_scheduling)
        {
            case LevelScheduling.Weighted when _cycle is not null:
                return SelectByCycle(_cycle, max, out run);
            case LevelScheduling.Weighted:
                return SelectByCredits(max, out run);
            case LevelScheduling.Deadline:
                return SelectDeadline(nowTicks, max, out run);
            default:
                // The highest level stays the highest until it empties: nothing is added while a receive takes.
                run = int.MaxValue;
                return HighestNonEmpty();
        }
    }

    protected override void OnFirstStart(Message<TMessage> message, int level, long waitTicks)
    {
        base.OnFirstStart(message, level, waitTicks);
        if (_targetTicks.Length > 0 && waitTicks > _targetTicks[level])
        {
            Metrics.TargetBreached(Name, level);
        }
    }

    /// <summary>
    /// Weighted scheduling by table: the next busy level's turn in the smooth weighted round-robin order of all
    /// levels, and as many of its turns in a row as the receive takes. A level alone takes every turn.
    /// </summary>
    private int SelectByCycle(WeightedCycle cycle, int max, out int run)
    {
        var level = cycle.NextBusy(NonEmptyLevels);
        if (IsOnlyNonEmpty(level))
        {
            run = int.MaxValue;
            return level;
        }

        run = cycle.Take(NonEmptyLevels, level, Math.Min(max, NextRunLength(level)));
        return level;
    }

    /// <summary>
    /// Weighted scheduling for weights whose cycle is too long for a table: smooth weighted round-robin (as in
    /// nginx) over the non-empty levels only, so an idle level's share goes to the busy ones: each level earns
    /// its weight per pick, the richest is picked and pays the total. Ties go to the higher level. A level alone
    /// earns and pays the same, so it is picked until it empties.
    /// </summary>
    /// <remarks>
    /// The run is how many picks in a row the same level wins, worked out from the credits (nothing else
    /// changes within a receive) and paid for at once: after k more wins, the winner leads level i by
    /// lead − k × (total − its weight + i's weight), and it keeps winning while that lead is positive (or zero,
    /// when it is the higher level). The run never exceeds what the receive will take, so no pick is paid for
    /// and not taken.
    /// </remarks>
    private int SelectByCredits(int max, out int run)
    {
        var shares = _shares;
        var best = -1;
        var bestCredit = long.MinValue;
        long total = 0;
        for (var level = HighestNonEmpty(); level >= 0; level = NextNonEmptyBelow(level))
        {
            ref var share = ref shares[level];
            var credit = share.Credit += share.Weight;
            total += share.Weight;
            if (credit > bestCredit)
            {
                best = level;
                bestCredit = credit;
            }
        }

        ref var winner = ref shares[best];
        winner.Credit -= total;
        if (total == winner.Weight)
        {
            run = int.MaxValue;
            return best;
        }

        long extra = Math.Min(max, NextRunLength(best)) - 1;
        for (var level = HighestNonEmpty(); extra > 0 && level >= 0; level = NextNonEmptyBelow(level))
        {
            if (level != best)
            {
                // Counted rather than divided: runs are short, and a division costs more than a few steps.
                var lead = winner.Credit + winner.Weight - shares[level].Credit - shares[level].Weight;
                var step = total - winner.Weight + shares[level].Weight;
                var wins = 0L;
                while (wins < extra && (lead > 0 || (lead == 0 && best > level)))
                {
                    wins++;
                    lead -= step;
                }

                extra = wins;
            }
        }

        if (extra > 0)
        {
            for (var level = HighestNonEmpty(); level >= 0; level = NextNonEmptyBelow(level))
            {
                shares[level].Credit += extra * shares[level].Weight;
            }

            winner.Credit -= extra * total;
        }

        run = (int)extra + 1;
        return best;
    }

    /// <summary>
    /// Earliest deadline first over the levels' oldest messages. When the most urgent one is already past its
    /// target, deadlines can no longer all be met (overload), and serving the latest first would make every level
    /// late; strict order then keeps the higher levels on target and lets the lower ones degrade, in order.
    /// </summary>
    /// <remarks>
    /// The run is how many of the chosen level's messages this rule picks in a row: within one receive the clock
    /// stands still and only the chosen level's head moves, so the other levels' slack is fixed and the chosen
    /// level's next messages are compared with the runner-up's once, here, instead of on every pick.
    /// </remarks>
    private int SelectDeadline(long nowTicks, int max, out int run)
    {
        var top = HighestNonEmpty();
        int best = -1, runnerUp = -1;
        long bestSlack = long.MaxValue, runnerUpSlack = long.MaxValue;
        for (var level = top; level >= 0; level = NextNonEmptyBelow(level))
        {
            // Ties go to the higher level, which comes first.
            var slack = Slack(Head(level), level, nowTicks);
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
        for (var next = Head(best).Next; run < max && next is not null; next = next.Next, run++)
        {
            var slack = Slack(next, best, nowTicks);
            var keeps = best == top
                ? slack <= runnerUpSlack
                : slack >= 0 && (slack < runnerUpSlack || (slack == runnerUpSlack && best > runnerUp));
            if (!keeps)
            {
                break;
            }
        }

        return best;
    }

    private long Slack(Message<TMessage> message, int level, long nowTicks) =>
        _targetTicks[level] - (nowTicks - message.EnqueuedAtTicks);

    /// <summary>A level's weight and the credit it has earned so far (weighted scheduling).</summary>
    private struct Share
    {
        public long Credit;
        public int Weight;
    }
}
