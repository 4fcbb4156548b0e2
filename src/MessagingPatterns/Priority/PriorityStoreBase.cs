using System.Numerics;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Priority;

/// <summary>
/// What both in-memory priority stores share: one <see cref="ReadyQueue{TMessage}"/> per level, a bitmap of
/// the non-empty levels so the highest one is found with one bit scan, per-level views, and the per-level
/// metrics. Subclasses only pick the level a receive takes from next, and for how many messages in a row
/// (<see cref="SelectLevel"/>). All members but the gauge reads run under the base store's lock.
/// </summary>
internal abstract class PriorityStoreBase<TMessage> : InMemoryStoreBase<TMessage>, IPriorityMessageStore<TMessage>, IPriorityGaugeSource
{
    private readonly ReadyQueue<TMessage>[] _ready;
    private readonly ulong[] _nonEmpty = new ulong[4];
    private readonly int _topWord;
    private readonly LevelStoreView<TMessage>?[] _views;

    protected PriorityStoreBase(string name, int levels, int capacity, TimeProvider timeProvider)
        : base(name, capacity, timeProvider)
    {
        Levels = levels;
        _topWord = (levels - 1) >> 6;
        _ready = new ReadyQueue<TMessage>[levels];
        _views = new LevelStoreView<TMessage>?[levels];

        PriorityMetrics.Register(this);
    }

    /// <inheritdoc/>
    public int Levels { get; }

    bool IPriorityGaugeSource.IsDisposed => IsDisposed;

    protected override int ReadyCount
    {
        get
        {
            var count = 0;
            for (var level = 0; level < Levels; level++)
            {
                count += CountAt(level);
            }

            return count;
        }
    }

    protected override DateTimeOffset? OldestReadyEnqueuedAt
    {
        get
        {
            DateTimeOffset? oldest = null;
            foreach (var level in _ready)
            {
                if (level.OldestEnqueuedAt is { } at && (oldest is null || at < oldest))
                {
                    oldest = at;
                }
            }

            return oldest;
        }
    }

    /// <inheritdoc/>
    public IMessageStore<TMessage> ForLevel(int level)
    {
        ThrowIfNotALevel(level);

        // Views are immutable and stateless, so a lost race only creates a spare one.
        return _views[level] ??= new LevelStoreView<TMessage>(this, level);
    }

    /// <inheritdoc/>
    public int GetReadyCount(int level)
    {
        ThrowIfNotALevel(level);
        return ((IPriorityGaugeSource)this).WaitingAt(level);
    }

    // A racy read of two counts, good enough for a gauge; publishes never wait for it.
    int IPriorityGaugeSource.WaitingAt(int level)
    {
        IncludeArrivals();
        return CountAt(level);
    }

    /// <summary>Receives from one level only; the per-level views call this.</summary>
    internal ValueTask<int> ReceiveLevelAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, int level, CancellationToken cancellationToken) =>
        ReceiveCoreAsync(buffer, leaseDuration, level, cancellationToken);

    protected override void ValidatePriority(Message<TMessage> message)
    {
        if (message.Priority >= Levels)
        {
            throw new ArgumentOutOfRangeException(
                nameof(message), message.Priority, $"Queue '{Name}' has {Levels} priority levels: priorities 0 to {Levels - 1}.");
        }
    }

    protected override void AddReady(Message<TMessage> message, bool redelivered)
    {
        var level = message.Priority;
        _ready[level].Add(message, redelivered);
        MarkNonEmpty(level);
    }

    protected override ref MessageList<TMessage> NextRun(long nowTicks, int level, int max, out int run)
    {
        if (level == AnyLevel && AnyNonEmpty())
        {
            level = SelectLevel(nowTicks, max, out var selectedRun);
            max = Math.Min(max, selectedRun);
        }
        else if (level == AnyLevel || !IsNonEmpty(level))
        {
            run = 0;
            return ref _ready[0].Next;
        }

        ref var ready = ref _ready[level].Next;
        run = Math.Min(max, ready.Count);

        // The caller takes the whole run, so the level's bit goes now if nothing else is left.
        if (run == CountAt(level))
        {
            _nonEmpty[level >> 6] &= ~(1UL << (level & 63));
        }

        if (PriorityMetrics.ObservesStarts)
        {
            ObserveFirstStarts(ready.Head, run, level, nowTicks);
        }

        return ref ready;
    }

    /// <summary>
    /// Picks the non-empty level the next messages come from and how many in a row (<paramref name="run"/>, at
    /// least 1) may come from it before the next pick, for a receive that takes up to <paramref name="max"/>
    /// more; called only when a message is ready.
    /// </summary>
    protected abstract int SelectLevel(long nowTicks, int max, out int run);

    /// <summary>Reports the first start of each never-delivered message among the <paramref name="count"/> from <paramref name="first"/>.</summary>
    private void ObserveFirstStarts(Message<TMessage> first, int count, int level, long nowTicks)
    {
        for (var message = first; count-- > 0; message = message.Next!)
        {
            if (message.DeliveryCount == 0)
            {
                OnFirstStart(message, level, nowTicks - message.EnqueuedAtTicks);
            }
        }
    }

    /// <summary>Called when a message is leased for the first time, with its wait since enqueue, if its metrics are listened to.</summary>
    protected virtual void OnFirstStart(Message<TMessage> message, int level, long waitTicks) =>
        PriorityMetrics.Started(Name, level, waitTicks);

    /// <summary>The oldest ready message of a non-empty level: the one a receive of that level takes next.</summary>
    protected Message<TMessage> Head(int level) => _ready[level].Next.Head;

    /// <summary>How many messages the next run of a non-empty level can hold (runs do not span its two lists).</summary>
    protected int NextRunLength(int level) => _ready[level].Next.Count;

    private int CountAt(int level) => _ready[level].Count;

    /// <summary>The bitmap of non-empty levels: level <c>i</c> is bit <c>i % 64</c> of word <c>i / 64</c>.</summary>
    protected ReadOnlySpan<ulong> NonEmptyLevels => _nonEmpty;

    /// <summary>Whether <paramref name="level"/> is the only non-empty level.</summary>
    protected bool IsOnlyNonEmpty(int level)
    {
        for (var word = 0; word <= _topWord; word++)
        {
            if (_nonEmpty[word] != (word == level >> 6 ? 1UL << (level & 63) : 0))
            {
                return false;
            }
        }

        return true;
    }

    protected bool IsNonEmpty(int level) => (_nonEmpty[level >> 6] & (1UL << (level & 63))) != 0;

    private bool AnyNonEmpty() => (_nonEmpty[0] | _nonEmpty[1] | _nonEmpty[2] | _nonEmpty[3]) != 0;

    // Written only when the bit changes: a store to the line on every message would make it bounce
    // between the consumer's core and publishers reading nearby fields.
    private void MarkNonEmpty(int level)
    {
        ref var word = ref _nonEmpty[level >> 6];
        var bit = 1UL << (level & 63);
        if ((word & bit) == 0)
        {
            word |= bit;
        }
    }

    /// <summary>The highest non-empty level, or -1 when none.</summary>
    protected int HighestNonEmpty()
    {
        for (var word = _topWord; word >= 0; word--)
        {
            var bits = _nonEmpty[word];
            if (bits != 0)
            {
                return (word << 6) + 63 - BitOperations.LeadingZeroCount(bits);
            }
        }

        return -1;
    }

    /// <summary>The highest non-empty level below <paramref name="level"/>, or -1 when none: iterates non-empty levels top down.</summary>
    protected int NextNonEmptyBelow(int level)
    {
        if (level <= 0)
        {
            return -1;
        }

        level--;
        var word = level >> 6;
        var bits = _nonEmpty[word] & (ulong.MaxValue >> (63 - (level & 63)));
        while (true)
        {
            if (bits != 0)
            {
                return (word << 6) + 63 - BitOperations.LeadingZeroCount(bits);
            }

            if (--word < 0)
            {
                return -1;
            }

            bits = _nonEmpty[word];
        }
    }

    private void ThrowIfNotALevel(int level)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(level, Levels);
    }
}
