using MessagingPatterns.LoadLeveling;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The durable-depth counter on its own: what it reports, when it counts, and how it survives a failed count.</summary>
public sealed class DurableDepthCounterTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _disposables = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }

    [Fact]
    public async Task FirstCount_ReportsWhatTheStoreHeldBeforeTheBuffer_AndEndsThePendingState()
    {
        var store = new CountedStore(Store()) { Held = new StoreStatistics(3, 1, 1, 7) };
        var target = new Target();

        var counter = Start(store, target);
        await counter.FirstCount.WaitAsync(s_patience);

        counter.FirstCountPending.Should().BeFalse();
        target.FirstCountDoneCalls.Should().Be(1);
        target.Counts.Should().Equal([5L], "ready, delayed and in-flight messages take room; dead letters do not");
    }

    [Fact]
    public async Task Count_TakesOffThisBuffersOwnPublishes_AndKeepsSettlesUnderWay()
    {
        var store = new CountedStore(Store()) { Held = new StoreStatistics(10, 0, 0, 0) };
        var target = new Target { Due = true, ReleasedSoFar = 4 };
        var counter = Start(store, target);
        await counter.FirstCount.WaitAsync(s_patience);
        await target.Counted.WaitAsync(s_patience);

        // Six of the ten were published through the buffer; one settle is under way in the store.
        counter.Stored(6);
        counter.BeginSettle();
        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        await target.Counted.WaitAsync(s_patience);
        counter.EndSettle();

        // The target adds the released count itself: unseen = held − stored + settling + released.
        target.Counts[^1].Should().Be(10 - 6 + 1);
    }

    [Fact]
    public async Task Timer_CountsOnlyWhenDue()
    {
        var store = new CountedStore(Store()) { Held = new StoreStatistics(2, 0, 0, 0) };
        var target = new Target { Due = false };
        var counter = Start(store, target);
        await counter.FirstCount.WaitAsync(s_patience);
        await target.Counted.WaitAsync(s_patience);

        _time.Advance(LoadLevelingDefaults.StoreCountInterval * 3);
        store.Calls.Should().Be(1, "a buffer far from its bound is not worth a count");

        target.Due = true;
        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        await target.Counted.WaitAsync(s_patience);
        store.Calls.Should().Be(2);
    }

    [Fact]
    public async Task FailedCount_EndsThePendingState_KeepsTheLastCount_AndIsTriedAgainAtTheNextTick()
    {
        var store = new CountedStore(Store()) { Held = new StoreStatistics(2, 0, 0, 0), Fail = true };
        var target = new Target { Due = false };
        var counter = Start(store, target);

        await counter.FirstCount.WaitAsync(s_patience);
        counter.FirstCountPending.Should().BeFalse("publishes must not wait forever on a store that cannot be counted");
        target.FirstCountDoneCalls.Should().Be(1);
        target.Counts.Should().BeEmpty();

        store.Fail = false;
        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        await target.Counted.WaitAsync(s_patience);
        target.Counts.Should().Equal([2L], "a failed count is tried again even when none is due");
    }

    [Fact]
    public async Task FailedCounts_AreLoggedOncePerRunOfFailures()
    {
        var store = new CountedStore(Store()) { Held = new StoreStatistics(2, 0, 0, 0), Fail = true };
        var target = new Target { Due = true };
        var logger = new ListLogger<DurableDepthCounter<int>>();
        var counter = new DurableDepthCounter<int>(store, target, _time, logger);
        _disposables.Add(counter);
        await counter.FirstCount.WaitAsync(s_patience);

        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        store.Fail = false;
        _time.Advance(LoadLevelingDefaults.StoreCountInterval);
        await target.Counted.WaitAsync(s_patience);

        logger.Entries.Should().ContainSingle().Which.Should().Match<(LogLevel Level, string Message, Exception? Exception)>(
            e => e.Level == LogLevel.Warning && e.Message.Contains("durable") && e.Exception is IOException);
    }

    private IMessageStore<int> Store()
    {
        var store = MessageStore.CreateInMemory<int>("durable", timeProvider: _time);
        _disposables.Add(store);
        return store;
    }

    private DurableDepthCounter<int> Start(IMessageStore<int> store, IDepthCountTarget target)
    {
        var counter = new DurableDepthCounter<int>(store, target, _time);
        _disposables.Add(counter);
        return counter;
    }

    /// <summary>A buffer as the counter sees it: whether a count is due, its released count, and the counts it was given.</summary>
    private sealed class Target : IDepthCountTarget
    {
        private readonly List<long> _counts = [];
        private int _firstCountDone;

        public bool Due { get; set; }

        public long ReleasedSoFar { get; set; }

        public SemaphoreSlim Counted { get; } = new(0);

        public IReadOnlyList<long> Counts
        {
            get
            {
                lock (_counts)
                {
                    return [.. _counts];
                }
            }
        }

        public int FirstCountDoneCalls => Volatile.Read(ref _firstCountDone);

        public bool CountDue => Due;

        public long Released => ReleasedSoFar;

        public void Recounted(long heldMinusStored)
        {
            lock (_counts)
            {
                _counts.Add(heldMinusStored);
            }

            Counted.Release();
        }

        public void FirstCountDone() => Interlocked.Increment(ref _firstCountDone);
    }

    /// <summary>A store whose statistics the test sets, and which counts how often it was asked (or fails when told to).</summary>
    private sealed class CountedStore(IMessageStore<int> inner) : ForwardingStore<int>(inner)
    {
        private int _calls;

        public StoreStatistics Held { get; set; } = new(0, 0, 0, 0);

        public bool Fail { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public override ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            return Fail ? ValueTask.FromException<StoreStatistics>(new IOException("connection reset")) : new ValueTask<StoreStatistics>(Held);
        }
    }
}
