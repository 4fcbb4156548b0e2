using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Stores;

/// <summary>
/// In-memory leases end exactly when their latest renewal says, and measure elapsed time, not the wall
/// clock: a wall-clock step neither expires nor extends a lease. Holds on every in-memory store.
/// </summary>
public sealed class InMemoryLeaseClockTests
{
    private static readonly DateTimeOffset s_start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Stores => ["fifo", "priority", "multi-queue"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task RenewalThatShortensALease_EndsItAtTheNewEnd(string kind)
    {
        var time = new FakeTimeProvider(s_start);
        await using var store = Create(kind, time);
        await store.EnqueueAsync(new Message<int>(1, "m-1"));
        var delivery = await ReceiveOneAsync(store, TimeSpan.FromSeconds(10));

        (await store.RenewLeaseAsync(delivery.Lease, TimeSpan.FromSeconds(1))).Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(2));

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 0, 0), "the lease ended at its new end");
        (await store.AckAsync(delivery.Lease)).Should().BeFalse("a settle with a token whose lease has ended changes nothing");
        var again = await ReceiveOneAsync(store, TimeSpan.FromSeconds(10));
        again.DeliveryCount.Should().Be(2);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ExpiredLease_NotYetNoticed_RefusesSettles(string kind)
    {
        // A clock that moves without firing timers: the store has not seen the lease end, yet it has ended.
        var time = new SteppingClock(s_start);
        await using var store = Create(kind, time);
        await store.EnqueueBatchAsync([new Message<int>(1, "m-1"), new Message<int>(2, "m-2")]);
        var buffer = new Delivery<int>[2];
        (await store.ReceiveAsync(buffer, TimeSpan.FromSeconds(10)).AsTask().Within()).Should().Be(2);

        time.Elapsed += TimeSpan.FromSeconds(11);

        (await store.AckAsync(buffer[0].Lease)).Should().BeFalse();
        (await store.RenewLeaseAsync(buffer[1].Lease, TimeSpan.FromMinutes(1))).Should().BeFalse();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task WallClockStepForward_DoesNotExpireALease(string kind)
    {
        var time = new SteppingClock(s_start);
        await using var store = Create(kind, time);
        await store.EnqueueAsync(new Message<int>(1, "m-1"));
        var delivery = await ReceiveOneAsync(store, TimeSpan.FromSeconds(30));

        time.Wall += TimeSpan.FromMinutes(10);

        using var cancellation = new CancellationTokenSource();
        var receive = store.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromSeconds(30), cancellation.Token).AsTask();
        receive.IsCompleted.Should().BeFalse("no time elapsed, so the lease still holds");
        await cancellation.CancelAsync();
        await FluentActions.Awaiting(() => receive.Within()).Should().ThrowAsync<OperationCanceledException>();
        (await store.AckAsync(delivery.Lease)).Should().BeTrue();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task WallClockStepBack_DoesNotDelayExpiryOrARelease(string kind)
    {
        var time = new SteppingClock(s_start);
        await using var store = Create(kind, time);
        await store.EnqueueBatchAsync([new Message<int>(1, "m-1"), new Message<int>(2, "m-2")]);
        var leased = await ReceiveOneAsync(store, TimeSpan.FromSeconds(30));
        var released = await ReceiveOneAsync(store, TimeSpan.FromSeconds(30));
        (await store.ReleaseAsync(released.Lease, TimeSpan.FromSeconds(30))).Should().BeTrue();

        time.Wall -= TimeSpan.FromMinutes(10);
        time.Elapsed += TimeSpan.FromSeconds(31);

        var buffer = new Delivery<int>[2];
        (await store.ReceiveAsync(buffer, TimeSpan.FromSeconds(30)).AsTask().Within()).Should().Be(2);
        buffer.Select(d => d.Message.Id).Should().BeEquivalentTo(["m-1", "m-2"]);
        buffer.Should().OnlyContain(d => d.DeliveryCount == 2);
        (await store.AckAsync(leased.Lease)).Should().BeFalse();
    }

    private static IMessageStore<int> Create(string kind, TimeProvider time) => kind switch
    {
        "fifo" => MessageStore.CreateInMemory<int>("leases", timeProvider: time),
        "priority" => MessageStore.CreatePriority<int>("leases", new PriorityQueueOptions(), time),
        _ => MessageStore.CreateMultiQueue<int>("leases", new MultiQueueOptions(), time),
    };

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store, TimeSpan lease)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, lease).AsTask().Within()).Should().Be(1);
        return buffer[0];
    }

    /// <summary>
    /// A clock whose wall time and elapsed time move separately, as a real machine's do when its clock is
    /// set. Its timers never fire: a test moves time and then calls the store.
    /// </summary>
    private sealed class SteppingClock(DateTimeOffset start) : TimeProvider
    {
        public TimeSpan Wall { get; set; }

        public TimeSpan Elapsed { get; set; }

        public override DateTimeOffset GetUtcNow() => start + Wall + Elapsed;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Elapsed.Ticks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new IdleTimer();

        private sealed class IdleTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
