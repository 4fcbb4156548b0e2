using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>
/// Over a durable store, which keeps messages across restarts and may be shared with other processes, the buffer's
/// bound counts what the store holds, not only what passed through the buffer. "Another process" here publishes and
/// acks on the store directly.
/// </summary>
public sealed class LoadLevelingOverDurableStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private static readonly TimeSpan s_countInterval = TimeSpan.FromSeconds(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly CountedStore _shared;
    private readonly List<ILoadLevelingStore<int>> _buffers = [];

    public LoadLevelingOverDurableStoreTests() => _shared = new CountedStore(MessageStore.CreateInMemory<int>("shared", timeProvider: _time));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var buffer in _buffers)
        {
            await buffer.DisposeAsync();
        }

        await _shared.DisposeAsync();
    }

    [Fact]
    public async Task MessagesLeftFromAnEarlierRun_CountAgainstTheCapacity_FromTheStart()
    {
        await _shared.EnqueueBatchAsync([Msg(0), Msg(1), Msg(2)]);
        var buffer = Buffer(capacity: 5, FullMode.Reject);

        buffer.GetSnapshot().Depth.Should().Be(3);
        await buffer.EnqueueBatchAsync([Msg(3), Msg(4)]);
        await FluentActions.Awaiting(() => buffer.EnqueueAsync(Msg(5)).AsTask()).Should().ThrowAsync<QueueFullException>();

        // Acking a leftover through the buffer frees its room, as for any message.
        (await buffer.AckAsync((await ReceiveOneAsync(buffer)).Lease)).Should().BeTrue();
        await buffer.EnqueueAsync(Msg(5));
        buffer.GetSnapshot().Depth.Should().Be(5);
    }

    [Fact]
    public async Task AnotherProcessAcks_FreeRoomForAWaitingPublish_AtTheNextCount()
    {
        var buffer = Buffer(capacity: 2, FullMode.Wait);
        await buffer.EnqueueBatchAsync([Msg(0), Msg(1)]);
        var third = buffer.EnqueueAsync(Msg(2)).AsTask();

        // The consumers run elsewhere: their acks never pass through this buffer.
        for (var i = 0; i < 2; i++)
        {
            (await _shared.AckAsync((await ReceiveOneAsync(_shared)).Lease)).Should().BeTrue();
        }

        third.IsCompleted.Should().BeFalse("the buffer has not counted the store since");
        _time.Advance(s_countInterval);

        await third.WaitAsync(s_patience);
        buffer.GetSnapshot().Depth.Should().Be(1);
        (await _shared.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task AnotherProcessPublishes_CountAgainstTheCapacity_AtTheNextCount()
    {
        var buffer = Buffer(capacity: 4, FullMode.Reject);
        await buffer.EnqueueBatchAsync([Msg(0), Msg(1)]);
        await _shared.EnqueueBatchAsync([Msg(2), Msg(3)]);

        _time.Advance(s_countInterval);

        buffer.GetSnapshot().Depth.Should().Be(4);
        await FluentActions.Awaiting(() => buffer.EnqueueAsync(Msg(4)).AsTask()).Should().ThrowAsync<QueueFullException>();
    }

    [Fact]
    public async Task BelowHalfFull_TheStoreIsNotCountedAgain()
    {
        var buffer = Buffer(capacity: 10, FullMode.Reject);
        await buffer.EnqueueBatchAsync([Msg(0), Msg(1)]);
        var counts = _shared.Counts;

        _time.Advance(s_countInterval * 5);

        _shared.Counts.Should().Be(counts, "a count may scan the store, and far from the bound it changes nothing");
    }

    [Fact]
    public async Task APublishReturningWhileTheStoreIsCounted_StaysCounted()
    {
        var buffer = Buffer(capacity: 2, FullMode.Reject);
        await buffer.EnqueueAsync(Msg(0));

        // The store is counted (1 message), then a publish returns, then the count's answer arrives.
        var answer = _shared.HoldNextCount();
        _time.Advance(s_countInterval);
        await buffer.EnqueueAsync(Msg(1));
        await Task.Run(answer.SetResult);

        buffer.GetSnapshot().Depth.Should().Be(2, "the count that missed the second publish must not undo it");
        await FluentActions.Awaiting(() => buffer.EnqueueAsync(Msg(2)).AsTask()).Should().ThrowAsync<QueueFullException>();
    }

    [Fact]
    public async Task ASettleCrossingACount_StaysCounted()
    {
        var buffer = Buffer(capacity: 2, FullMode.Reject);
        await buffer.EnqueueBatchAsync([Msg(0), Msg(1)]);

        // The ack has removed the message from the store but not yet returned when the store is counted.
        var ackReturns = _shared.HoldNextAck();
        var ack = buffer.AckAsync((await ReceiveOneAsync(buffer)).Lease).AsTask();
        _time.Advance(s_countInterval);
        await Task.Run(ackReturns.SetResult);
        (await ack).Should().BeTrue();

        buffer.GetSnapshot().Depth.Should().Be(1, "the store holds one message");
        await buffer.EnqueueAsync(Msg(2));
        await FluentActions.Awaiting(() => buffer.EnqueueAsync(Msg(3)).AsTask()).Should().ThrowAsync<QueueFullException>();
    }

    [Fact]
    public async Task AFailedCount_IsTriedAgain_EvenFarFromTheBound()
    {
        await _shared.EnqueueBatchAsync(Enumerable.Range(0, 8).Select(Msg).ToArray());
        _shared.FailNextCount = true;
        var buffer = Buffer(capacity: 10, FullMode.Reject);
        buffer.GetSnapshot().Depth.Should().Be(0, "the first count failed");

        _time.Advance(s_countInterval);

        buffer.GetSnapshot().Depth.Should().Be(8);
        await FluentActions.Awaiting(() => buffer.EnqueueBatchAsync([Msg(8), Msg(9), Msg(10)]).AsTask()).Should().ThrowAsync<QueueFullException>();
    }

    [Fact]
    public async Task OverflowLeftovers_MoveBackOnlyOnceTheStoreIsCounted()
    {
        await _shared.EnqueueBatchAsync([Msg(0), Msg(1), Msg(2)]);
        var overflow = new WatchedOverflowStore(MessageStore.CreateInMemory<int>("spill", timeProvider: _time), _shared);
        await overflow.EnqueueBatchAsync([Msg(3), Msg(4), Msg(5)]);
        var firstCount = _shared.HoldNextCount();
        Buffer(capacity: 4, FullMode.Reject, overflow);

        // The mover has counted the overflow store's leftovers; it must still wait for the store's own count.
        await overflow.LeftoversCounted.WaitAsync(s_patience);
        await Task.Run(firstCount.SetResult);
        await overflow.FirstMove.WaitAsync(s_patience);

        overflow.MovedBeforeTheStoreWasCounted.Should().BeFalse();
    }

    private ILoadLevelingStore<int> Buffer(int capacity, FullMode mode, IMessageStore<int>? overflow = null)
    {
        var buffer = MessageStore.WithLoadLeveling(_shared, new LoadLevelingOptions { Capacity = capacity, FullMode = mode }, _time, overflow);
        _buffers.Add(buffer);
        return buffer;
    }

    private static Message<int> Msg(int number) => new(number, $"m-{number}");

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }

    /// <summary>
    /// A durable store shared with "other processes", counting the statistics calls. A call can fail, or be held after
    /// the store was counted and before the answer reaches the caller; an ack can be held after it removed the message.
    /// Releasing a hold off the test's synchronization context (which would defer the caller) runs the caller on before
    /// the release returns.
    /// </summary>
    private sealed class CountedStore(IMessageStore<int> inner) : ForwardingStore<int>(inner), IDurableMessageStore<int>
    {
        private TaskCompletionSource? _holdCount;
        private TaskCompletionSource? _holdAck;

        public int Counts { get; private set; }

        public bool FailNextCount { get; set; }

        public bool CountHeld => Volatile.Read(ref _holdCount) is { Task.IsCompleted: false };

        public TaskCompletionSource HoldNextCount() => _holdCount = new TaskCompletionSource();

        public TaskCompletionSource HoldNextAck() => _holdAck = new TaskCompletionSource();

        public override async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
        {
            Counts++;
            if (FailNextCount)
            {
                FailNextCount = false;
                throw new InvalidOperationException("The store is busy.");
            }

            var statistics = await base.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
            if (_holdCount is { Task.IsCompleted: false } hold)
            {
                await hold.Task.ConfigureAwait(false);
            }

            return statistics;
        }

        public override async ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
        {
            var acked = await base.AckAsync(lease, cancellationToken).ConfigureAwait(false);
            if (Interlocked.Exchange(ref _holdAck, null) is { } hold)
            {
                await hold.Task.ConfigureAwait(false);
            }

            return acked;
        }
    }

    /// <summary>An overflow store that tells when the buffer has counted it and when the mover first takes from it.</summary>
    private sealed class WatchedOverflowStore(IMessageStore<int> inner, CountedStore queueStore) : ForwardingStore<int>(inner)
    {
        private readonly TaskCompletionSource _leftoversCounted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstMove = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task LeftoversCounted => _leftoversCounted.Task;

        public Task FirstMove => _firstMove.Task;

        public bool MovedBeforeTheStoreWasCounted { get; private set; }

        public override async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
        {
            var statistics = await base.GetStatisticsAsync(cancellationToken);
            _leftoversCounted.TrySetResult();
            return statistics;
        }

        public override ValueTask<int> ReceiveAsync(Memory<Delivery<int>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
        {
            MovedBeforeTheStoreWasCounted |= queueStore.CountHeld;
            _firstMove.TrySetResult();
            return base.ReceiveAsync(buffer, leaseDuration, cancellationToken);
        }
    }
}
