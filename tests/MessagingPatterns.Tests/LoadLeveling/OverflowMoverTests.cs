using MessagingPatterns.Diagnostics;
using MessagingPatterns.LoadLeveling;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The overflow mover on its own, against in-memory stores and a buffer it sees only through its target.</summary>
public sealed class OverflowMoverTests : IAsyncLifetime
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
    public async Task Mover_MovesInOrderUpToTheRoom_MarksTheCopies_AndAcksTheOverflowCopies()
    {
        var (overflow, queue) = (Store("overflow"), Store("queue"));
        await SpillAsync(overflow, 5);
        var target = new Target(overflowHeld: 5) { Capacity = 3 };
        var mover = Start(overflow, queue, target);

        await target.Idle.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-0", "m-1", "m-2");
        (await overflow.GetStatisticsAsync()).Ready.Should().Be(2, "what did not fit stays in the overflow store");

        target.Capacity = 5;
        mover.Signal();
        await target.Idle.WaitAsync(s_patience);
        var moved = await DrainAsync(queue);
        moved.Select(m => m.Id).Should().Equal("m-3", "m-4");
        moved.Should().AllSatisfy(m => m.Headers.Should().Contain(LoadLevelingHeaders.MovedFromOverflow, "true"));
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
        target.Moves.Should().Be(5);
        target.Removed.Should().Be(5);
    }

    [Fact]
    public async Task Mover_WhenTheBufferRunsOutOfBytes_GivesTheRestBack_InOrder()
    {
        var overflow = new ReleaseWatchingStore(Store("overflow"));
        var queue = Store("queue");
        await SpillAsync(overflow, 4);
        var target = new Target(overflowHeld: 4) { Capacity = 10, BytesLeft = 1 };
        var mover = Start(overflow, queue, target);

        // Bodies are sizes: m-0 and m-1 fit in the one byte left, m-2 does not.
        await overflow.Released.WaitAsync(s_patience);
        await overflow.Released.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-0", "m-1");
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(2, 0, 0, 0), "the leased rest went back at once");

        target.BytesLeft = 10;
        mover.Signal();
        await target.Idle.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-2", "m-3");
        target.Unreserved.Should().Be(0);
    }

    [Fact]
    public async Task Mover_MessageTheQueuesStoreRefusesForGood_IsDeadLetteredInTheOverflowStore_AndTheRestFlow()
    {
        var overflow = Store("overflow");
        var queue = new RefusingStore(Store("queue"), refused: 1);
        await SpillAsync(overflow, 3);
        var target = new Target(overflowHeld: 3) { Capacity = 10 };
        Start(overflow, queue, target);

        await target.Idle.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-0", "m-2");
        var deadLetter = (await overflow.GetDeadLettersAsync(10)).Should().ContainSingle().Subject;
        deadLetter.MessageId.Should().Be("m-1");
        deadLetter.Reason.Should().Contain("refused").And.Contain("no priority 1 here");
        target.Unreserved.Should().Be(1, "the refused message's room is given back");
        target.Removed.Should().Be(3);
    }

    [Fact]
    public async Task Mover_WhoseOverflowAckFailsOnce_TriesAgain_AndMovesTheMessageOnce()
    {
        var overflow = new FailingAckStore(Store("overflow"), failures: 1);
        var queue = Store("queue");
        await SpillAsync(overflow, 2);
        var target = new Target(overflowHeld: 2) { Capacity = 10 };
        Start(overflow, queue, target);

        await target.Idle.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-0", "m-1");
        overflow.AckCalls.Should().Be(3);
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Mover_WhoseOverflowAckNeverSucceeds_RemovesTheCopyWhenItComesBack_WithoutASecondMove()
    {
        var overflow = new FailingAckStore(Store("overflow"), failures: LoadLevelingDefaults.OverflowAckAttempts);
        var queue = Store("queue");
        await SpillAsync(overflow, 1);
        var target = new Target(overflowHeld: 1) { Capacity = 10 };
        Start(overflow, queue, target);

        await target.MovedSignal.WaitAsync(s_patience);
        await overflow.AckAttempted.WaitAsync(s_patience);

        // The overflow lease ends; the overflow store gives the message back, and the mover only removes it.
        _time.Advance(LoadLevelingDefaults.InternalLease + TimeSpan.FromSeconds(1));
        await target.Idle.WaitAsync(s_patience);
        (await DrainAsync(queue)).Select(m => m.Id).Should().Equal("m-0");
        target.Moves.Should().Be(1);
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public void MarkMoved_KeepsIdBodyPriorityAndHeaders_AndAddsTheMovedHeader()
    {
        var original = new Message<int>(7, "id-7", 2, new Dictionary<string, string> { ["a"] = "b" });

        var moved = OverflowMover<int>.MarkMoved(original);

        moved.Id.Should().Be("id-7");
        moved.Body.Should().Be(7);
        moved.Priority.Should().Be(2);
        moved.Headers.Should().Contain("a", "b").And.Contain(LoadLevelingHeaders.MovedFromOverflow, "true");
        original.Headers.Should().NotContainKey(LoadLevelingHeaders.MovedFromOverflow);
    }

    private static Message<int> Msg(int i) => new(i, $"m-{i}");

    private static async Task SpillAsync(IMessageStore<int> overflow, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await overflow.EnqueueAsync(Msg(i)).AsTask().WaitAsync(s_patience);
        }
    }

    private static async Task<List<Message<int>>> DrainAsync(IMessageStore<int> store)
    {
        var messages = new List<Message<int>>();
        var buffer = new Delivery<int>[1];
        while (true)
        {
            using var noWait = new CancellationTokenSource();
            var receive = store.ReceiveAsync(buffer, Pump.Lease, noWait.Token).AsTask();
            if (!receive.IsCompleted)
            {
                await noWait.CancelAsync();
            }

            try
            {
                await receive.WaitAsync(s_patience);
            }
            catch (OperationCanceledException)
            {
                return messages;
            }

            messages.Add(buffer[0].Message);
            await store.AckAsync(buffer[0].Lease).AsTask().WaitAsync(s_patience);
        }
    }

    private IMessageStore<int> Store(string name)
    {
        var store = MessageStore.CreateInMemory<int>(name, timeProvider: _time);
        _disposables.Add(store);
        return store;
    }

    private OverflowMover<int> Start(IMessageStore<int> overflow, IMessageStore<int> queue, Target target)
    {
        var mover = new OverflowMover<int>(overflow, queue, target, _time, NullLogger.Instance, MessagingInstruments.Shared.LoadLeveling);
        _disposables.Add(mover);
        mover.Start(Task.CompletedTask);
        return mover;
    }

    /// <summary>A buffer as the mover sees it: a capacity in messages, optionally bytes (a message's size is its body), and the counts.</summary>
    private sealed class Target(long overflowHeld) : IOverflowMoveTarget<int>
    {
        private long _overflowHeld = overflowHeld;
        private long _reserved;
        private int _moves;
        private int _removed;
        private int _unreserved;

        public long Capacity { get; set; }

        public long BytesLeft { get; set; } = long.MaxValue;

        public int Moves => Volatile.Read(ref _moves);

        public int Removed => Volatile.Read(ref _removed);

        public int Unreserved => Volatile.Read(ref _unreserved);

        /// <summary>Released each time the mover finds no room and stops until signalled.</summary>
        public SemaphoreSlim Idle { get; } = new(0);

        public SemaphoreSlim MovedSignal { get; } = new(0);

        public string Name => "queue";

        public long RoomForMoves()
        {
            var room = Math.Min(Capacity - Interlocked.Read(ref _reserved), Interlocked.Read(ref _overflowHeld));
            if (room <= 0)
            {
                Idle.Release();
            }

            return room;
        }

        public bool TryReserveMove(long size)
        {
            if (size > BytesLeft || Interlocked.Read(ref _reserved) >= Capacity)
            {
                return false;
            }

            BytesLeft -= size;
            Interlocked.Increment(ref _reserved);
            return true;
        }

        public void UnreserveMove(long size)
        {
            BytesLeft += size;
            Interlocked.Decrement(ref _reserved);
            Interlocked.Increment(ref _unreserved);
        }

        public long SizeOf(Message<int> message) => message.Body;

        public void Moved()
        {
            Interlocked.Increment(ref _moves);
            MovedSignal.Release();
        }

        public void RemovedFromOverflow()
        {
            Interlocked.Decrement(ref _overflowHeld);
            Interlocked.Increment(ref _removed);
        }
    }

    /// <summary>A queue's store that refuses one body for good, as a store without that priority level would.</summary>
    private sealed class RefusingStore(IMessageStore<int> inner, int refused) : ForwardingStore<int>(inner)
    {
        public override ValueTask EnqueueAsync(Message<int> message, CancellationToken cancellationToken = default) =>
            message.Body == refused ? throw new ArgumentException($"no priority {refused} here", nameof(message)) : base.EnqueueAsync(message, cancellationToken);
    }

    /// <summary>An overflow store that signals each message given back to it.</summary>
    private sealed class ReleaseWatchingStore(IMessageStore<int> inner) : ForwardingStore<int>(inner)
    {
        public SemaphoreSlim Released { get; } = new(0);

        public override async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
        {
            var released = await base.ReleaseAsync(lease, delay, cancellationToken);
            Released.Release();
            return released;
        }
    }

    /// <summary>An overflow store whose first acknowledgements fail (a dropped connection).</summary>
    private sealed class FailingAckStore(IMessageStore<int> inner, int failures) : ForwardingStore<int>(inner)
    {
        private int _calls;

        public int AckCalls => Volatile.Read(ref _calls);

        /// <summary>Released once the failing acknowledgements are used up.</summary>
        public SemaphoreSlim AckAttempted { get; } = new(0);

        public override ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
        {
            var call = Interlocked.Increment(ref _calls);
            if (call == failures)
            {
                AckAttempted.Release();
            }

            return call <= failures ? throw new IOException("connection reset") : base.AckAsync(lease, cancellationToken);
        }
    }
}
