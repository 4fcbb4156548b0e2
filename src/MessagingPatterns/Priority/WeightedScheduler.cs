namespace MessagingPatterns.Priority;

/// <summary>
/// Weighted scheduling: smooth weighted round-robin (as in nginx) over the ready levels, by a table of turns when
/// the weights' cycle is short (<see cref="WeightedCycle"/>), else by credits. Keeps state, so each store gets its own.
/// </summary>
internal sealed class WeightedScheduler : LevelScheduler
{
    private readonly int[] _weights;
    private readonly Share[] _shares;
    private readonly WeightedCycle? _cycle;

    /// <param name="weights">One weight per level, indexed by level (index 0 is priority 0).</param>
    public WeightedScheduler(int[] weights)
        : this(weights, forStore: false)
    {
    }

    private WeightedScheduler(int[] weights, bool forStore)
    {
        _weights = weights;
        _shares = forStore ? [.. weights.Select(w => new Share { Weight = w })] : [];
        _cycle = forStore ? WeightedCycle.TryCreate(weights) : null;
    }

    public override LevelScheduler ForStore(int levels)
    {
        if (_weights.Length != levels)
        {
            throw new ArgumentException($"The weighted scheduler has {_weights.Length} weights; a store of {levels} levels needs one per level.", nameof(levels));
        }

        return new WeightedScheduler(_weights, forStore: true);
    }

    public override int SelectLevel(ReadyLevels ready, int max, out int run) =>
        _cycle is not null ? SelectByCycle(ready, _cycle, max, out run) : SelectByCredits(ready, max, out run);

    /// <summary>Weights give the lower levels their share on purpose, so their messages are never asked back.</summary>
    public override bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt) => false;

    /// <summary>
    /// By table: the next busy level's turn in the smooth weighted round-robin order of all levels, and as many of
    /// its turns in a row as the receive takes. A level alone takes every turn.
    /// </summary>
    private static int SelectByCycle(ReadyLevels ready, WeightedCycle cycle, int max, out int run)
    {
        var busy = ready.Bitmap;
        var level = cycle.NextBusy(busy);
        if (ready.IsOnly(level))
        {
            run = int.MaxValue;
            return level;
        }

        run = cycle.Take(busy, level, Math.Min(max, ready.NextRunLength(level)));
        return level;
    }

    /// <summary>
    /// By credits, for weights whose cycle is too long for a table: each ready level earns its weight per pick, the
    /// richest is picked and pays the total (ties go to the higher level), so an idle level's share goes to the busy
    /// ones. A level alone earns and pays the same, so it is picked until it empties.
    /// </summary>
    /// <remarks>
    /// The run is how many picks in a row the same level wins, worked out from the credits (nothing else changes
    /// within a receive) and paid for at once: after k more wins, the winner leads level i by
    /// lead − k × (total − its weight + i's weight), and it keeps winning while that lead is positive (or zero, when
    /// it is the higher level). The run never exceeds what the receive will take, so no pick is paid for and not taken.
    /// </remarks>
    private int SelectByCredits(ReadyLevels ready, int max, out int run)
    {
        var shares = _shares;
        var best = -1;
        var bestCredit = long.MinValue;
        long total = 0;
        for (var level = ready.Highest; level >= 0; level = ready.NextBelow(level))
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

        long extra = Math.Min(max, ready.NextRunLength(best)) - 1;
        for (var level = ready.Highest; extra > 0 && level >= 0; level = ready.NextBelow(level))
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
            for (var level = ready.Highest; level >= 0; level = ready.NextBelow(level))
            {
                shares[level].Credit += extra * shares[level].Weight;
            }

            winner.Credit -= extra * total;
        }

        run = (int)extra + 1;
        return best;
    }

    /// <summary>A level's weight and the credit it has earned so far.</summary>
    private struct Share
    {
        public long Credit;
        public int Weight;
    }
}
