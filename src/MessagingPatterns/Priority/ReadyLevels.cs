namespace MessagingPatterns;

/// <summary>
/// What a <see cref="LevelScheduler"/> sees of a priority store when it picks a level: which levels hold ready
/// messages, how many, and the oldest one of each. Only the store makes one; it is valid during the call it is
/// passed to.
/// </summary>
public abstract class ReadyLevels
{
    private protected ReadyLevels()
    {
    }

    /// <summary>How many levels the store holds: priorities 0 to <c>Levels - 1</c>.</summary>
    public abstract int Levels { get; }

    /// <summary>The store's clock at this receive: what waits and deadlines are measured against.</summary>
    public abstract DateTimeOffset Now { get; }

    /// <summary>The highest level with a ready message, or -1 when none.</summary>
    public abstract int Highest { get; }

    /// <summary>The highest level below <paramref name="level"/> with a ready message, or -1: walks the ready levels top down.</summary>
    /// <param name="level">A level, 0 to <see cref="Levels"/> - 1.</param>
    /// <returns>The next ready level down, or -1.</returns>
    public abstract int NextBelow(int level);

    /// <summary>How many messages of <paramref name="level"/> are ready.</summary>
    /// <param name="level">A level, 0 to <see cref="Levels"/> - 1.</param>
    /// <returns>The count; 0 for a level with none.</returns>
    public abstract int CountAt(int level);

    /// <summary>When the oldest ready message of a ready <paramref name="level"/> was accepted: the one the level gives next.</summary>
    /// <param name="level">A level with a ready message.</param>
    /// <returns>Its enqueue time.</returns>
    public abstract DateTimeOffset OldestEnqueuedAt(int level);

    /// <summary>The headers of the oldest ready message of a ready <paramref name="level"/>, for schedulers that share by tenant or by key.</summary>
    /// <param name="level">A level with a ready message.</param>
    /// <returns>Its headers (empty when it has none).</returns>
    public abstract IReadOnlyDictionary<string, string> OldestHeaders(int level);

    /// <summary>The store's clock in UTC ticks.</summary>
    internal abstract long NowTicks { get; }

    /// <summary>The bitmap of ready levels: level <c>i</c> is bit <c>i % 64</c> of word <c>i / 64</c>.</summary>
    internal abstract ReadOnlySpan<ulong> Bitmap { get; }

    /// <summary>Whether <paramref name="level"/> is the only ready level.</summary>
    internal abstract bool IsOnly(int level);

    /// <summary>How many messages the next run of a ready level can hold (a run does not span its redelivered and fresh lists).</summary>
    internal abstract int NextRunLength(int level);

    /// <summary>The enqueue time, in UTC ticks, of the oldest ready message of a ready level.</summary>
    internal abstract long OldestTicks(int level);

    /// <summary>The store's arrival order of the oldest ready message of a ready level, to break ties between equal enqueue times.</summary>
    internal abstract long OldestSequence(int level);

    /// <summary>
    /// Steps through a ready level's next messages after its oldest: <paramref name="cursor"/> starts <see langword="null"/>;
    /// false at the end of the level's next run.
    /// </summary>
    internal abstract bool TryNext(int level, ref object? cursor, out long enqueuedTicks);
}
