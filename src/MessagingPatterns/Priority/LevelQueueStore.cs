using System.Numerics;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Priority;

/// <summary>
/// The in-memory priority store: one <see cref="ReadyQueue{TMessage}"/> per level, a bitmap of the non-empty levels
/// so the highest one is found with one bit scan, per-level views and the per-level metrics, and a
/// <see cref="LevelScheduler"/> that picks the level a receive takes from next, and for how many messages in a row.
/// Both the reordering store (strict or aging) and the multi-queue store (strict, weighted, deadline, or a
/// scheduler of the user's) are this store. All members but the gauge reads run under the base store's lock.
/// </summary>
internal sealed class LevelQueueStore<TMessage> : InMemoryStoreBase<TMessage>, IPriorityMessageStore<TMessage>, IPreemptibleStore<TMessage>, IPriorityGaugeSource
{
    private readonly ReadyQueue<TMessage>[] _ready;
    private readonly ulong[] _nonEmpty = new ulong[4];
    private readonly int _topWord;
    private readonly LevelStoreView<TMessage>?[] _views;
    private readonly LevelScheduler _scheduler;
    private readonly bool _preemptsByLevel;
    private readonly ReadyView _levels;
    private readonly PriorityMetrics _metrics;

    public LevelQueueStore(string name, int levels, LevelScheduler scheduler, int capacity, TimeProvider timeProvider, MessagingInstruments? instruments = null)
        : base(name, capacity, timeProvider)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        Levels = levels;
        _topWord = (levels - 1) >> 6;
        _ready = new ReadyQueue<TMessage>[levels];
        _views = new LevelStoreView<TMessage>?[levels];
        _scheduler = scheduler.ForStore(levels) ?? throw new InvalidOperationException($"{scheduler.GetType().Name}.{nameof(LevelScheduler.ForStore)} returned null.");
        _preemptsByLevel = _scheduler.PreemptsByLevelOnly;
        _levels = new ReadyView(this);

        _metrics = (instruments ?? MessagingInstruments.Shared).Priority;
        _metrics.Register(this);
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

    /// <inheritdoc/>
    public ValueTask<bool> HasReadyAheadOfAsync(Message<TMessage> held, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(held);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ObjectDisposedException.ThrowIf(IsDisposed, this);

        // With no other level ready and no publish waiting to be ordered, as when workers drain one level, nothing
        // can go first: a read of the bitmap, without the lock. A publish it misses is seen by the next check.
        ThrowIfNotALevel(held.Priority);
        if (!HasUnorderedArrivals && IsOnlyOrNoneNonEmpty(held.Priority))
        {
            return new ValueTask<bool>(false);
        }

        if (_preemptsByLevel)
        {
            // The default rule needs only the bitmap, read without the lock, so a more urgent level already ordered is
            // never missed. Publishes not yet ordered are ordered first if the lock is free; if not, its holder does it.
            TryOrderArrivals();
            return new ValueTask<bool>(HighestNonEmpty() > held.Priority);
        }

        // A scheduler that weighs waits reads the ready lists, so it runs under the lock, on the clock of this call. A
        // busy lock is not queued on: the answer is no, and the next check sees what the lock's holder changed.
        return new ValueTask<bool>(TryCheckUnderLock((Store: this, Held: held), static s => s.Store.PreemptsLocked(s.Held)) ?? false);
    }

    /// <inheritdoc/>
    public ValueTask<int> HandBackAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leases);
        return cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : new(HandBack(leases));
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
            _levels.At = nowTicks;
            level = _scheduler.SelectLevel(_levels, max, out var selectedRun);
            if ((uint)level >= (uint)Levels || !IsNonEmpty(level) || selectedRun < 1)
            {
                throw new InvalidOperationException(
                    $"{_scheduler.GetType().Name} picked level {level} with a run of {selectedRun}; a scheduler must pick a ready level and a run of at least 1.");
            }

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

        if (_metrics.ObservesStarts)
        {
            ObserveFirstStarts(ready.Head, run, level, nowTicks);
        }

        return ref ready;
    }

    /// <summary>Whether the scheduler would now choose another level than <paramref name="held"/>'s (under the lock).</summary>
    private bool PreemptsLocked(Message<TMessage> held)
    {
        _levels.At = TimeProvider.GetUtcNow().UtcTicks;
        return _scheduler.Preempts(_levels, held.Priority, held.EnqueuedAt);
    }

    /// <summary>
    /// Reports the first start of each never-delivered message among the <paramref name="count"/> from
    /// <paramref name="first"/>, once: a message handed back unstarted has a delivery count of 0 again.
    /// </summary>
    private void ObserveFirstStarts(Message<TMessage> first, int count, int level, long nowTicks)
    {
        for (var message = first; count-- > 0; message = message.Next!)
        {
            if (message.DeliveryCount == 0 && !message.StartObserved)
            {
                message.StartObserved = true;
                OnFirstStart(level, nowTicks - message.EnqueuedAtTicks);
            }
        }
    }

    /// <summary>Called when a message is leased for the first time, with its wait since enqueue, if its metrics are listened to.</summary>
    private void OnFirstStart(int level, long waitTicks)
    {
        _metrics.Started(Name, level, waitTicks);
        if (_scheduler.IsLate(level, waitTicks))
        {
            _metrics.TargetBreached(Name, level);
        }
    }

    /// <summary>The oldest ready message of a non-empty level: the one a receive of that level takes next.</summary>
    private Message<TMessage> Head(int level) => _ready[level].Next.Head;

    /// <summary>How many messages the next run of a non-empty level can hold (runs do not span its two lists).</summary>
    private int NextRunLength(int level) => _ready[level].Next.Count;

    private int CountAt(int level) => _ready[level].Count;

    /// <summary>The bitmap of non-empty levels: level <c>i</c> is bit <c>i % 64</c> of word <c>i / 64</c>.</summary>
    private ReadOnlySpan<ulong> NonEmptyLevels => _nonEmpty;

    /// <summary>Whether <paramref name="level"/> is the only non-empty level.</summary>
    private bool IsOnlyNonEmpty(int level)
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

    /// <summary>Whether no level but <paramref name="level"/> is non-empty.</summary>
    private bool IsOnlyOrNoneNonEmpty(int level)
    {
        for (var word = 0; word <= _topWord; word++)
        {
            if ((_nonEmpty[word] & ~(word == level >> 6 ? 1UL << (level & 63) : 0)) != 0)
            {
                return false;
            }
        }

        return true;
    }

    private bool IsNonEmpty(int level) => (_nonEmpty[level >> 6] & (1UL << (level & 63))) != 0;

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
    private int HighestNonEmpty()
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
    private int NextNonEmptyBelow(int level)
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

    /// <summary>The store's ready levels as its scheduler sees them (read under the lock).</summary>
    private sealed class ReadyView(LevelQueueStore<TMessage> store) : ReadyLevels
    {
        /// <summary>The clock of the receive or preemption check in progress, in UTC ticks (set under the lock before each call).</summary>
        public long At { get; set; }

        public override int Levels => store.Levels;

        public override DateTimeOffset Now => new(NowTicks, TimeSpan.Zero);

        public override int Highest => store.HighestNonEmpty();

        internal override long NowTicks => At;

        internal override ReadOnlySpan<ulong> Bitmap => store.NonEmptyLevels;

        public override int NextBelow(int level)
        {
            store.ThrowIfNotALevel(level);
            return store.NextNonEmptyBelow(level);
        }

        public override int CountAt(int level)
        {
            store.ThrowIfNotALevel(level);
            return store.CountAt(level);
        }

        public override DateTimeOffset OldestEnqueuedAt(int level) => Oldest(level).EnqueuedAt;

        public override IReadOnlyDictionary<string, string> OldestHeaders(int level) => Oldest(level).Headers;

        internal override bool IsOnly(int level) => store.IsOnlyNonEmpty(level);

        internal override int NextRunLength(int level) => store.NextRunLength(level);

        internal override long OldestTicks(int level) => store.Head(level).EnqueuedAtTicks;

        internal override long OldestSequence(int level) => store.Head(level).Sequence;

        internal override bool TryNext(int level, ref object? cursor, out long enqueuedTicks)
        {
            var next = ((Message<TMessage>?)cursor ?? store.Head(level)).Next;
            cursor = next;
            enqueuedTicks = next?.EnqueuedAtTicks ?? 0;
            return next is not null;
        }

        private Message<TMessage> Oldest(int level)
        {
            store.ThrowIfNotALevel(level);
            if (store.CountAt(level) == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(level), level, "The level has no ready message.");
            }

            return store.Head(level);
        }
    }
}
