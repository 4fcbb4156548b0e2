using MessagingPatterns.LoadLeveling;
using MessagingPatterns.Stores;
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

    public LoadLevelingOverDurableStoreTests() => _shared = new CountedStore(MessageStore.CreateInMemory<int>("shared", timeProvider: _time));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _shared.DisposeAsync();

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

    private ILoadLevelingStore<int> Buffer(int capacity, FullMode mode) =>
        MessageStore.WithLoadLeveling(_shared, new LoadLevelingOptions { Capacity = capacity, FullMode = mode }, _time);

    private static Message<int> Msg(int number) => new(number, $"m-{number}");

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }

    /// <summary>
    /// A durable store shared with "other processes", counting the statistics calls. One call can be held after the
    /// store was counted and before the answer reaches the caller; releasing it off the test's synchronization context
    /// (which would defer the caller) runs the caller on before the release returns.
    /// </summary>
    private sealed class CountedStore(IMessageStore<int> inner) : ForwardingStore<int>(inner), IDurableMessageStore<int>
    {
        private TaskCompletionSource? _hold;

        public int Counts { get; private set; }

        public TaskCompletionSource HoldNextCount() => _hold = new TaskCompletionSource();

        public override async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
        {
            Counts++;
            var statistics = await base.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
            if (Interlocked.Exchange(ref _hold, null) is { } hold)
            {
                await hold.Task.ConfigureAwait(false);
            }

            return statistics;
        }
    }
}
