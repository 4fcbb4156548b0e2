using System.Diagnostics;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

public sealed class LoadLevelingStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private static readonly TimeSpan s_lease = Pump.Lease;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task Enqueue_WhenFullInWaitMode_WaitsUntilAnAckFreesRoom()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 2 });
        await store.EnqueueBatchAsync([Msg(0), Msg(1)]);

        var publish = store.EnqueueAsync(Msg(2)).AsTask();
        publish.IsCompleted.Should().BeFalse();
        store.GetSnapshot().WaitingPublishers.Should().Be(1);

        var first = await ReceiveOneAsync(store);
        (await store.AckAsync(first.Lease)).Should().BeTrue();
        await publish.WaitAsync(s_patience);

        store.GetSnapshot().Depth.Should().Be(2);
        (await store.GetStatisticsAsync()).Ready.Should().Be(2);
    }

    [Fact]
    public async Task Enqueue_WhenFullInWaitMode_ServesWaitersInArrivalOrder()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 1 });
        await store.EnqueueAsync(Msg(0));
        var second = store.EnqueueAsync(Msg(1)).AsTask();
        var third = store.EnqueueAsync(Msg(2)).AsTask();

        var order = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var delivery = await ReceiveOneAsync(store);
            order.Add(delivery.Message.Id);
            await store.AckAsync(delivery.Lease);
        }

        await Task.WhenAll(second, third).WaitAsync(s_patience);
        order.Should().Equal("m-0", "m-1", "m-2");
    }

    [Fact]
    public async Task Enqueue_WhenFullInWaitMode_RacingTheAckThatFreesRoom_NeverWaitsWithRoomFree()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 1 });
        using var meet = new Barrier(2);
        var lease = default(LeaseToken);
        void Meet() => meet.SignalAndWait(s_patience).Should().BeTrue("the other thread is still going");

        await DedicatedThreads.Run(2, thread =>
        {
            var buffer = new Delivery<int>[1];
            for (var round = 0; round < 10_000; round++)
            {
                if (thread == 1)
                {
                    Meet();
                    store.AckAsync(lease).AsTask().Wait();
                    Meet();
                    continue;
                }

                store.EnqueueAsync(Msg(round)).AsTask().Wait();
                store.ReceiveAsync(buffer, s_lease).AsTask().Wait();
                lease = buffer[0].Lease;
                Meet();
                var publish = store.EnqueueAsync(Msg(-round)).AsTask();
                Meet();
                publish.Wait(s_patience).Should().BeTrue($"the ack of round {round} freed the room");
                store.ReceiveAsync(buffer, s_lease).AsTask().Wait();
                store.AckAsync(buffer[0].Lease).AsTask().Wait();
            }
        });

        store.GetSnapshot().Depth.Should().Be(0);
    }

    [Fact]
    public async Task Enqueue_WhenStillFullAfterPublishTimeout_ThrowsQueueFullAndStoresNothing()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 1, PublishTimeout = TimeSpan.FromSeconds(5) });
        await store.EnqueueAsync(Msg(0));

        var publish = store.EnqueueAsync(Msg(1)).AsTask();
        _time.Advance(TimeSpan.FromSeconds(4));
        publish.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromSeconds(1));

        var error = (await FluentActions.Awaiting(() => publish.WaitAsync(s_patience)).Should().ThrowAsync<QueueFullException>()).Which;
        error.Capacity.Should().Be(1);
        error.QueueName.Should().Be("leveled");
        error.Message.Should().Contain("PublishTimeout");
        var snapshot = store.GetSnapshot();
        snapshot.Rejected.Should().Be(1);
        snapshot.WaitingPublishers.Should().Be(0);
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task Enqueue_CancelledWhileWaitingForRoom_ThrowsAndStoresNothing()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 1 });
        await store.EnqueueAsync(Msg(0));
        using var cancellation = new CancellationTokenSource();

        var publish = store.EnqueueAsync(Msg(1), cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => publish.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
        var delivery = await ReceiveOneAsync(store);
        await store.AckAsync(delivery.Lease);
        store.GetSnapshot().Depth.Should().Be(0, "a cancelled waiter keeps no room");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Enqueue_WhenFullInRejectMode_ThrowsQueueFullExceptionWithTheCapacity()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 2, FullMode = FullMode.Reject });
        await store.EnqueueBatchAsync([Msg(0), Msg(1)]);

        var error = (await FluentActions.Awaiting(() => store.EnqueueAsync(Msg(2)).AsTask()).Should().ThrowAsync<QueueFullException>()).Which;
        await FluentActions.Awaiting(() => store.EnqueueBatchAsync([Msg(3)]).AsTask()).Should().ThrowAsync<QueueFullException>();

        error.Capacity.Should().Be(2);
        error.Message.Should().Contain("'leveled'").And.Contain("capacity 2");
        store.GetSnapshot().Rejected.Should().Be(2);
        (await store.GetStatisticsAsync()).Ready.Should().Be(2, "nothing accepted is lost");
    }

    [Fact]
    public async Task Enqueue_WhenFullInDropNewestMode_ReportsTheIncomingMessageAndKeepsTheHeldOnes()
    {
        var dropped = new List<DroppedMessage>();
        var store = Create(new LoadLevelingOptions { Capacity = 2, FullMode = FullMode.DropNewest, OnDropped = dropped.Add });
        await store.EnqueueBatchAsync([Msg(0), Msg(1)]);

        await store.EnqueueAsync(Msg(2));

        dropped.Should().ContainSingle().Which.MessageId.Should().Be("m-2");
        dropped[0].Reason.Should().StartWith("dropped:").And.Contain("DropNewest");
        dropped[0].Should().BeOfType<DroppedMessage<int>>().Which.Body.Should().Be(2);
        store.GetSnapshot().Dropped.Should().Be(1);
        (await ReceiveOneAsync(store)).Message.Id.Should().Be("m-0");
    }

    [Fact]
    public async Task Enqueue_WhenFullInDropOldestMode_ReportsAndRemovesTheOldestReadyMessage()
    {
        var dropped = new List<DroppedMessage>();
        var store = Create(new LoadLevelingOptions { Capacity = 2, FullMode = FullMode.DropOldest, OnDropped = dropped.Add });
        await store.EnqueueBatchAsync([Msg(0), Msg(1)]);

        await store.EnqueueAsync(Msg(2));

        dropped.Should().ContainSingle().Which.MessageId.Should().Be("m-0");
        dropped[0].Reason.Should().Contain("DropOldest");
        var snapshot = store.GetSnapshot();
        snapshot.Dropped.Should().Be(1);
        snapshot.Depth.Should().Be(2);
        var rest = await ReceiveAsync(store, 10);
        rest.Select(d => d.Message.Id).Should().Equal("m-1", "m-2");
    }

    [Fact]
    public async Task Enqueue_WhenFullInDropOldestModeAndEverythingIsInFlight_DropsAndReportsTheIncomingMessage()
    {
        var dropped = new List<DroppedMessage>();
        var store = Create(new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.DropOldest, OnDropped = dropped.Add });
        await store.EnqueueAsync(Msg(0));
        var held = await ReceiveOneAsync(store);

        await store.EnqueueAsync(Msg(1));

        dropped.Should().ContainSingle().Which.MessageId.Should().Be("m-1");
        dropped[0].Reason.Should().Contain("in flight");
        (await store.AckAsync(held.Lease)).Should().BeTrue();
    }

    [Fact]
    public async Task Enqueue_WhenTheDropCallbackThrows_FailsThePublishAndDropsNothing()
    {
        var store = Create(new LoadLevelingOptions
        {
            Capacity = 1,
            FullMode = FullMode.DropOldest,
            OnDropped = _ => throw new InvalidOperationException("sink down"),
        });
        await store.EnqueueAsync(Msg(0));

        await FluentActions.Awaiting(() => store.EnqueueAsync(Msg(1)).AsTask()).Should().ThrowAsync<InvalidOperationException>().WithMessage("sink down");

        store.GetSnapshot().Dropped.Should().Be(0);
        (await ReceiveOneAsync(store)).Message.Id.Should().Be("m-0");
    }

    [Fact]
    public async Task Enqueue_WithByteCapacity_WaitsForBytesAndRejectsMessagesThatCanNeverFit()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 100, CapacityBytes = 10, MessageSize = body => (int)body, FullMode = FullMode.Reject });
        await store.EnqueueAsync(Msg(6));

        await FluentActions.Awaiting(() => store.EnqueueAsync(Msg(5)).AsTask()).Should().ThrowAsync<QueueFullException>();
        await FluentActions.Awaiting(() => store.EnqueueAsync(Msg(11)).AsTask()).Should().ThrowAsync<ArgumentException>().WithParameterName("message");
        await store.EnqueueAsync(Msg(4));
        store.GetSnapshot().Bytes.Should().Be(10);

        var delivery = await ReceiveOneAsync(store);
        await store.AckAsync(delivery.Lease);
        store.GetSnapshot().Bytes.Should().Be(4);
        await store.EnqueueAsync(Msg(5));
        store.GetSnapshot().Bytes.Should().Be(9);
    }

    [Fact]
    public async Task DeadLetterAndRedrive_KeepDepthAndBytesInStep()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 10, CapacityBytes = 100, MessageSize = body => (int)body });
        await store.EnqueueAsync(Msg(7));
        var delivery = await ReceiveOneAsync(store);

        (await store.DeadLetterAsync(delivery.Lease, "poison")).Should().BeTrue();
        store.GetSnapshot().Should().Match<LoadLevelingSnapshot>(s => s.Depth == 0 && s.Bytes == 0 && s.TotalProcessed == 1);

        (await store.RedriveAsync(["m-7"])).Should().Be(1);
        store.GetSnapshot().Should().Match<LoadLevelingSnapshot>(s => s.Depth == 1 && s.Bytes == 7);
    }

    [Fact]
    public async Task Receive_WhenPaced_LeasesNoMoreMessagesThanPermits()
    {
        var store = Create(new LoadLevelingOptions { MessagesPerSecond = 10, Burst = 2 });
        await store.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(Msg).ToArray());

        (await ReceiveAsync(store, 10)).Should().HaveCount(2, "the bucket holds a burst of 2");
        var buffer = new Delivery<int>[10];
        var next = store.ReceiveAsync(buffer, s_lease).AsTask();
        next.IsCompleted.Should().BeFalse("the bucket is empty");

        _time.Advance(TimeSpan.FromMilliseconds(100));
        (await next.WaitAsync(s_patience)).Should().Be(1, "one permit came back after a tenth of a second");
        (await store.GetStatisticsAsync()).InFlight.Should().Be(3);
    }

    [Fact]
    public async Task Receive_CancelledWhileWaitingForAPermit_LeasesNothing()
    {
        var store = Create(new LoadLevelingOptions { MessagesPerSecond = 1, Burst = 1 });
        await store.EnqueueBatchAsync([Msg(0), Msg(1)]);
        await ReceiveOneAsync(store);
        using var cancellation = new CancellationTokenSource();

        var waiting = store.ReceiveAsync(new Delivery<int>[1], s_lease, cancellation.Token).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => waiting.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 1, 0));
        _time.Advance(TimeSpan.FromSeconds(1));
        (await ReceiveOneAsync(store)).Message.Id.Should().Be("m-1", "the cancelled receive used no permit");
    }

    [Fact]
    public async Task Receive_WithAUserSuppliedLimiter_TakesAPermitPerMessage()
    {
        using var limiter = new System.Threading.RateLimiting.FixedWindowRateLimiter(new()
        {
            PermitLimit = 3,
            Window = TimeSpan.FromHours(1),
            QueueLimit = 10,
            AutoReplenishment = false,
        });
        var store = Create(new LoadLevelingOptions { RateLimiter = limiter });
        await store.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(Msg).ToArray());

        (await ReceiveAsync(store, 2)).Should().HaveCount(2);
        (await ReceiveAsync(store, 5)).Should().HaveCount(1);
        store.ReceiveAsync(new Delivery<int>[1], s_lease).AsTask().IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task Enqueue_WhenFullWithAnOverflowStore_SpillsAndDrainsBackInPublishOrder()
    {
        var overflow = MessageStore.CreateInMemory<int>("leveled-overflow", timeProvider: _time);
        var store = Create(new LoadLevelingOptions { Capacity = 2, FullMode = FullMode.Reject }, overflow);
        for (var i = 0; i < 6; i++)
        {
            await store.EnqueueAsync(Msg(i)).AsTask().WaitAsync(s_patience);
        }

        var snapshot = store.GetSnapshot();
        snapshot.Depth.Should().Be(2);
        snapshot.Overflowed.Should().Be(4);
        snapshot.TotalOverflowed.Should().Be(4);
        snapshot.Rejected.Should().Be(0, "overflow comes before the full-mode");
        (await store.GetStatisticsAsync()).Ready.Should().Be(6);

        var order = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var delivery = await ReceiveOneAsync(store);
            order.Add(delivery.Message.Id);
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
            if (i == 0)
            {
                // Room is free now, but older messages still wait in the overflow store: these go behind them.
                await store.EnqueueAsync(Msg(6)).AsTask().WaitAsync(s_patience);
                await store.EnqueueAsync(Msg(7)).AsTask().WaitAsync(s_patience);
            }
        }

        order.Should().Equal(Enumerable.Range(0, 8).Select(i => $"m-{i}"));
        store.GetSnapshot().Overflowed.Should().Be(0);
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Overflow_MovedIntoAStoreStalledPastHalfTheMoveLease_GoesBack_AndIsMovedOnceWhenTheStoreRecovers()
    {
        var inner = new GatedEnqueueStore<int>(MessageStore.CreateInMemory<int>("stalling", timeProvider: _time));
        var overflow = MessageStore.CreateInMemory<int>("stalling-overflow", timeProvider: _time);
        var store = MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, _time, overflow);
        _stores.Add(store);
        await store.EnqueueAsync(Msg(0));
        await inner.WaitForPublishAsync();
        await store.EnqueueAsync(Msg(1));
        await store.EnqueueAsync(Msg(2));
        inner.Close();

        // Room frees: the mover leases m-1 (for 30 s) and its publish into the buffer's store stalls.
        (await store.AckAsync((await ReceiveOneAsync(store)).Lease)).Should().BeTrue();
        await inner.WaitForPublishAsync().WaitAsync(s_patience);

        // At half the lease the move is called off and m-1 given back, then leased and tried again.
        _time.Advance(TimeSpan.FromSeconds(15));
        await inner.WaitForPublishAsync().WaitAsync(s_patience);
        inner.Open();

        var order = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var delivery = await ReceiveOneAsync(store);
            order.Add(delivery.Message.Id);
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        }

        order.Should().Equal("m-1", "m-2");

        // m-2 can be handled before the mover's ack of its overflow copy returns; the count drops once it has.
        var settling = Stopwatch.StartNew();
        while (store.GetSnapshot().Overflowed != 0)
        {
            settling.Elapsed.Should().BeLessThan(s_patience, "the mover acks what it moved");
            await Task.Yield();
        }

        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
        (await inner.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0), "m-1 was moved once");
    }

    [Fact]
    public async Task Overflow_LeftFromAnEarlierRun_IsMovedWhenRoomFrees_EvenIfTheBufferFilledFirst()
    {
        var overflow = new HeldStatisticsStore(MessageStore.CreateInMemory<int>("leftover-overflow", timeProvider: _time));
        await overflow.EnqueueBatchAsync([new(1, "old-1"), new(2, "old-2")]);
        var store = Create(new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, overflow);

        // The buffer fills while the leftovers are still being counted; only then are they counted.
        await store.EnqueueAsync(new Message<int>(3, "new")).AsTask().WaitAsync(s_patience);
        overflow.ReleaseStatistics();
        var counting = Stopwatch.StartNew();
        while ((await store.GetStatisticsAsync()).Ready < 3)
        {
            // The count finishes on another thread; the buffer's statistics show it once it has.
            counting.Elapsed.Should().BeLessThan(s_patience);
            await Task.Yield();
        }

        var order = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var delivery = await ReceiveOneAsync(store);
            order.Add(delivery.Message.Id);
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        }

        order.Should().Equal("new", "old-1", "old-2");
        store.GetSnapshot().Overflowed.Should().Be(0);
    }

    [Fact]
    public async Task Overflow_MessageTheQueuesStoreRefuses_IsDeadLetteredInTheOverflowStore_AndTheRestMoveOn()
    {
        var inner = MessageStore.CreateMultiQueue<int>("three-levels", new MultiQueueOptions { Levels = 3 }, _time);
        var overflow = MessageStore.CreateInMemory<int>("three-levels-overflow", timeProvider: _time);
        var store = MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, _time, overflow);
        _stores.Add(store);
        await store.EnqueueAsync(Msg(0));

        // Spilled while full: the overflow store takes a priority the queue's store does not have.
        await store.EnqueueAsync(new Message<int>(1, "too-high", priority: 5));
        await store.EnqueueAsync(Msg(2));
        (await store.AckAsync((await ReceiveOneAsync(store)).Lease)).Should().BeTrue();

        var next = await ReceiveOneAsync(store);
        next.Message.Id.Should().Be("m-2");
        var refused = (await overflow.GetDeadLettersAsync(10)).Should().ContainSingle().Subject;
        refused.MessageId.Should().Be("too-high");
        refused.Reason.Should().Contain("refused");
        store.GetSnapshot().Overflowed.Should().Be(0);
    }

    [Fact]
    public async Task GetSnapshot_ReportsDepthRatesAndWait()
    {
        var store = Create(new LoadLevelingOptions { Capacity = 100 });
        for (var i = 0; i < 10; i++)
        {
            await store.EnqueueAsync(Msg(i));
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        var snapshot = store.GetSnapshot();
        snapshot.Depth.Should().Be(10);
        snapshot.ArrivalRate.Should().BeApproximately(10, 1);
        snapshot.TotalArrived.Should().Be(10);

        var deliveries = await ReceiveAsync(store, 4);
        foreach (var delivery in deliveries)
        {
            await store.AckAsync(delivery.Lease);
        }

        snapshot = store.GetSnapshot();
        snapshot.Depth.Should().Be(6);
        snapshot.TotalProcessed.Should().Be(4);
        snapshot.AverageWait.Should().BeGreaterThan(TimeSpan.Zero);
        snapshot.IsFull.Should().BeFalse();
    }

    [Fact]
    public async Task Dispose_FailsWaitingPublishes_AndDisposesTheInnerStore()
    {
        var inner = MessageStore.CreateInMemory<int>("leveled", timeProvider: _time);
        var store = MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { Capacity = 1 }, _time);
        await store.EnqueueAsync(Msg(0));
        var publish = store.EnqueueAsync(Msg(1)).AsTask();

        await store.DisposeAsync();

        await FluentActions.Awaiting(() => publish.WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>();
        FluentActions.Invoking(store.GetSnapshot).Should().Throw<ObjectDisposedException>();
        await FluentActions.Awaiting(() => inner.GetStatisticsAsync().AsTask()).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public void WithLoadLeveling_WithInvalidOptions_ThrowsNamingEveryProblem()
    {
        var options = new LoadLevelingOptions
        {
            Capacity = 0,
            Burst = 0,
            MessagesPerSecond = -1,
            CapacityBytes = 10,
            PublishTimeout = TimeSpan.Zero,
            FullMode = FullMode.DropNewest,
        };

        var error = FluentActions.Invoking(() => MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("bad"), options))
            .Should().Throw<OptionsValidationException>().Which;

        error.Failures.Should().HaveCountGreaterThanOrEqualTo(6);
        error.Message.Should().Contain("Capacity").And.Contain("Burst").And.Contain("MessagesPerSecond")
            .And.Contain("MessageSize").And.Contain("PublishTimeout").And.Contain("OnDropped");
    }

    [Theory]
    [InlineData(FullMode.DropOldest)]
    [InlineData(FullMode.DropNewest)]
    public void WithLoadLeveling_RequiringNoDataLossWithADropMode_ThrowsSayingWhy(FullMode mode)
    {
        var options = new LoadLevelingOptions { FullMode = mode, OnDropped = _ => { }, RequireNoDataLoss = true };
        var durable = new DurableTestStore<int>(MessageStore.CreateInMemory<int>("durable"));

        var error = FluentActions.Invoking(() => MessageStore.WithLoadLeveling(durable, options))
            .Should().Throw<OptionsValidationException>().Which;

        error.Message.Should().Contain("RequireNoDataLoss").And.Contain($"FullMode {mode} drops messages");
    }

    [Fact]
    public void WithLoadLeveling_RequiringNoDataLossOverAnInMemoryStore_ThrowsSayingWhy()
    {
        var options = new LoadLevelingOptions { RequireNoDataLoss = true };

        var error = FluentActions.Invoking(() => MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("memory"), options))
            .Should().Throw<OptionsValidationException>().Which;

        error.Message.Should().Contain("not durable").And.Contain("lost when the process ends");
    }

    [Fact]
    public async Task WithLoadLeveling_RequiringNoDataLossOverDurableStores_Builds()
    {
        var options = new LoadLevelingOptions { RequireNoDataLoss = true, FullMode = FullMode.Reject };
        var inner = new DurableTestStore<int>(MessageStore.CreateInMemory<int>("durable", timeProvider: _time));
        var overflow = new DurableTestStore<int>(MessageStore.CreateInMemory<int>("durable-overflow", timeProvider: _time));

        await using var store = MessageStore.WithLoadLeveling(inner, options, _time, overflow);

        store.GetSnapshot().Capacity.Should().Be(10_000);
    }

    [Fact]
    public void WithLoadLeveling_RequiringNoDataLossWithAnInMemoryOverflowStore_ThrowsSayingWhy()
    {
        var options = new LoadLevelingOptions { RequireNoDataLoss = true };
        var inner = new DurableTestStore<int>(MessageStore.CreateInMemory<int>("durable"));

        var error = FluentActions.Invoking(() => MessageStore.WithLoadLeveling(inner, options, overflowStore: MessageStore.CreateInMemory<int>("spill")))
            .Should().Throw<OptionsValidationException>().Which;

        error.Message.Should().Contain("overflow store").And.Contain("not durable");
    }

    /// <summary>A store whose statistics wait until released, to hold a buffer's count of overflow leftovers.</summary>
    private sealed class HeldStatisticsStore(IMessageStore<int> inner) : ForwardingStore<int>(inner)
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReleaseStatistics() => _released.TrySetResult();

        public override async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
        {
            await _released.Task.WaitAsync(cancellationToken);
            return await base.GetStatisticsAsync(cancellationToken);
        }
    }

    private ILoadLevelingStore<int> Create(LoadLevelingOptions options, IMessageStore<int>? overflow = null)
    {
        var store = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("leveled", timeProvider: _time), options, _time, overflow);
        _stores.Add(store);
        return store;
    }

    private static Message<int> Msg(int number) => new(number, $"m-{number}");

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }

    private static async Task<Delivery<int>[]> ReceiveAsync(IMessageStore<int> store, int max)
    {
        var buffer = new Delivery<int>[max];
        var received = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        return buffer[..received];
    }
}
