namespace MessagingPatterns.Priority;

/// <summary>
/// The order of turns that smooth weighted round-robin gives when every level is busy, one period long (the
/// weights' sum over their greatest common divisor), so a weighted pick is a table read instead of a pass over
/// the levels' credits. An idle level loses its turns, which hands its share to the busy levels in proportion
/// to their weights.
/// </summary>
/// <remarks>Not thread-safe: the store uses it under its lock.</remarks>
internal sealed class WeightedCycle
{
    /// <summary>The longest period kept as a table; longer ones would make skipping idle turns slow.</summary>
    public const int MaxTurns = 1024;

    private readonly byte[] _turns;
    private int _position;

    private WeightedCycle(byte[] turns) => _turns = turns;

    /// <summary>The cycle for <paramref name="weights"/> (one per level, each &gt; 0), or null when its period is over <see cref="MaxTurns"/>.</summary>
    public static WeightedCycle? TryCreate(IReadOnlyList<int> weights)
    {
        var divisor = 0;
        long period = 0;
        foreach (var weight in weights)
        {
            divisor = GreatestCommonDivisor(divisor, weight);
        }

        foreach (var weight in weights)
        {
            period += weight / divisor;
        }

        if (period > MaxTurns || weights.Count > byte.MaxValue + 1)
        {
            return null;
        }

        // Each level earns its weight per turn, the richest takes the turn and pays the total; ties go to the
        // higher level. After one period every credit is back to zero, so the order repeats.
        var credits = new long[weights.Count];
        var turns = new byte[period];
        for (var turn = 0; turn < turns.Length; turn++)
        {
            var best = weights.Count - 1;
            for (var level = weights.Count - 1; level >= 0; level--)
            {
                credits[level] += weights[level] / divisor;
                if (credits[level] > credits[best])
                {
                    best = level;
                }
            }

            credits[best] -= period;
            turns[turn] = (byte)best;
        }

        return new WeightedCycle(turns);
    }

    /// <summary>The level whose turn is next, skipping idle levels' turns (at least one level of <paramref name="busy"/> must be set).</summary>
    public int NextBusy(ReadOnlySpan<ulong> busy)
    {
        while (!IsSet(busy, _turns[_position]))
        {
            Advance();
        }

        return _turns[_position];
    }

    /// <summary>
    /// Takes up to <paramref name="limit"/> turns in a row for <paramref name="level"/> (whose turn is next),
    /// skipping idle levels' turns in between, and returns how many it took.
    /// </summary>
    public int Take(ReadOnlySpan<ulong> busy, int level, int limit)
    {
        var taken = 0;
        do
        {
            taken++;
            Advance();
        }
        while (taken < limit && NextBusy(busy) == level);

        return taken;
    }

    private void Advance() => _position = _position + 1 == _turns.Length ? 0 : _position + 1;

    private static bool IsSet(ReadOnlySpan<ulong> bits, int level) => (bits[level >> 6] & (1UL << (level & 63))) != 0;

    private static int GreatestCommonDivisor(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
