using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Stores;

/// <summary>
/// What the in-memory FIFO store adds to the conformance suite: bounded capacity, and the races its
/// lock-free publish and ack must win.
/// </summary>
public sealed class InMemoryQueueStoreTests
{
    [Fact]
    public async Task Enqueue_IntoAFullStore_WaitsUntilAnAckMakesRoom()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 2 });
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]);

        var third = store.EnqueueAsync(new Message<int>(3)).AsTask();
        third.IsCompleted.Should().BeFalse("the store is full");

        var buffer = new Delivery<int>[1];
        await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        third.IsCompleted.Should().BeFalse("a leased message still counts against the capacity");
        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();

        await third.Within();
        (await store.GetStatisticsAsync()).Ready.Should().Be(2);
    }

    [Fact]
    public async Task Enqueue_IntoAFullStore_ServesWaitingPublishersInArrivalOrder_AndNewPublishersQueueBehindThem()
    {
        await using var store = MessageStore.CreateInMemory<string>("bounded", new InMemoryQueueOptions { Capacity = 2 });
        await store.EnqueueBatchAsync([new Message<string>("m-1", "m-1"), new Message<string>("m-2", "m-2")]);

        // The first waiting publisher needs both places; the second, arriving later, needs one.
        var first = store.EnqueueBatchAsync([new Message<string>("a-1", "a-1"), new Message<string>("a-2", "a-2")]).AsTask();
        var second = store.EnqueueAsync(new Message<string>("b", "b")).AsTask();
        (await AckNextAsync(store)).Should().Be("m-1");
        var late = store.EnqueueAsync(new Message<string>("c", "c")).AsTask();
        (await AckNextAsync(store)).Should().Be("m-2");

        await first.Within();
        second.IsCompleted.Should().BeFalse("it arrived after the first and is served after it");
        late.IsCompleted.Should().BeFalse("a new publisher queues behind those already waiting");
        var order = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            order.Add(await AckNextAsync(store));
        }

        await Task.WhenAll(second, late).Within();
        order.Should().Equal("a-1", "a-2", "b", "c");
    }

    [Fact]
    public async Task Ack_ThatMakesRoom_PutsTheServedPublishersMessageInTheStore_BeforeItReturns()
    {
        await using var store = MessageStore.CreateInMemory<string>("bounded", new InMemoryQueueOptions { Capacity = 1 });
        await store.EnqueueAsync(new Message<string>("m-1", "m-1"));
        var waiting = store.EnqueueAsync(new Message<string>("b", "b")).AsTask();

        (await AckNextAsync(store)).Should().Be("m-1");

        // Published by the ack that served it, not later by the woken publisher: publishers served one after another
        // then enter the queue in that order, whichever of them the thread pool runs first.
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
        await waiting.Within();
        (await AckNextAsync(store)).Should().Be("b");
    }

    private static async Task<string> AckNextAsync(IMessageStore<string> store)
    {
        var buffer = new Delivery<string>[1];
        await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();
        return buffer[0].Message.Id;
    }

    [Fact]
    public async Task Enqueue_IntoAFullStore_CancelledWhileWaiting_StoresNothing()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 1 });
        await store.EnqueueAsync(new Message<int>(1));
        using var cancellation = new CancellationTokenSource();

        var waiting = store.EnqueueAsync(new Message<int>(2), cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => waiting.Within()).Should().ThrowAsync<OperationCanceledException>();
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task EnqueueBatch_LargerThanTheCapacity_ThrowsNamingTheMessages()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 1 });

        var act = () => store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]).AsTask();

        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("messages");
        (await store.GetStatisticsAsync()).Ready.Should().Be(0);
    }

    [Fact]
    public void CreateInMemory_WithCapacityZero_ThrowsNamingTheOption()
    {
        var act = () => MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 0 });

        act.Should().Throw<OptionsValidationException>().WithMessage("*Capacity*");
    }

    [Fact]
    public async Task LeaseAndReleaseDelay_LongerThanATimerCanWait_AreAccepted()
    {
        // The system clock's timers take at most about 49.7 days.
        await using var store = MessageStore.CreateInMemory<string>("patient");
        await store.EnqueueAsync(new Message<string>("x"));
        var buffer = new Delivery<string>[1];

        (await store.ReceiveAsync(buffer, TimeSpan.FromDays(60)).Within()).Should().Be(1);
        (await store.ReleaseAsync(buffer[0].Lease, TimeSpan.FromDays(60))).Should().BeTrue();

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 1, 0, 0));
    }

    [Fact]
    public async Task Release_WithADelayLongerThanATimerCanWait_ComesBackWhenDue_NotWhenTheTimerFirstFires()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = MessageStore.CreateInMemory<string>("patient", timeProvider: time);
        await store.EnqueueAsync(new Message<string>("x"));
        var buffer = new Delivery<string>[1];
        await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        (await store.ReleaseAsync(buffer[0].Lease, TimeSpan.FromDays(60))).Should().BeTrue();

        time.Advance(TimeSpan.FromDays(59));
        (await store.GetStatisticsAsync()).Delayed.Should().Be(1);

        time.Advance(TimeSpan.FromDays(1));
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 0, 0));
    }

    [Fact]
    public async Task Settle_WithALeaseFromAnotherStore_ReturnsFalse()
    {
        await using var first = MessageStore.CreateInMemory<int>("first");
        await using var second = MessageStore.CreateInMemory<int>("second");
        await first.EnqueueAsync(new Message<int>(1));
        await second.EnqueueAsync(new Message<int>(2));
        var buffer = new Delivery<int>[1];
        await first.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        await second.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromMinutes(1)).Within();

        (await second.AckAsync(buffer[0].Lease)).Should().BeFalse();
        (await first.AckAsync(buffer[0].Lease)).Should().BeTrue();
    }

    [Fact]
    public async Task Enqueue_OneMessageObjectFromManyThreadsAtOnce_DeliversEveryPublishSeparately()
    {
        const int threads = 8;
        const int publishesPerThread = 200;
        await using var store = MessageStore.CreateInMemory<int>("shared");
        var message = new Message<int>(42);
        using var start = new Barrier(threads);

        await DedicatedThreads.Run(threads, _ =>
        {
            start.SignalAndWait();
            for (var i = 0; i < publishesPerThread; i++)
            {
                store.EnqueueAsync(message).AsTask().GetAwaiter().GetResult();
            }
        }).Within();

        var buffer = new Delivery<int>[threads * publishesPerThread];
        var received = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        received.Should().Be(buffer.Length, "each publish is a message of its own");
        buffer.Select(d => d.Message).Distinct().Should().HaveCount(buffer.Length, "no two publishes share one delivery's bookkeeping");
        buffer.Should().AllSatisfy(d => d.DeliveryCount.Should().Be(1));
        foreach (var delivery in buffer)
        {
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        }

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Ack_OneLeaseFromManyThreadsAtOnce_SucceedsExactlyOnce()
    {
        const int threads = 4;
        await using var store = MessageStore.CreateInMemory<int>("acks");
        const int rounds = 200;
        var buffer = new Delivery<int>[1];
        var acked = new int[rounds];
        var lease = NextLease();

        // Each round: all threads pass the barrier, ack the same lease, and meet again; the last one
        // through the second barrier leases the next message before anyone can start the next round.
        using var start = new Barrier(threads);
        using var done = new Barrier(threads, _ => lease = NextLease());
        await DedicatedThreads.Run(threads, _ =>
        {
            for (var round = 0; round < rounds; round++)
            {
                start.SignalAndWait();
                if (store.AckAsync(lease).AsTask().GetAwaiter().GetResult())
                {
                    Interlocked.Increment(ref acked[round]);
                }

                done.SignalAndWait();
            }
        }).Within();

        acked.Should().AllSatisfy(count => count.Should().Be(1, "a lease ends once"));
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 1, 0), "only the message leased after the last round is still in flight");

        LeaseToken NextLease()
        {
            store.EnqueueAsync(new Message<int>(0)).AsTask().GetAwaiter().GetResult();
            store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().GetAwaiter().GetResult().Should().Be(1);
            return buffer[0].Lease;
        }
    }
}
