using CsCheck;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

public sealed class PriorityStoreOrderingTests
{
    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public void Receive_AnyInterleavingOfPublishes_ComesInPriorityThenPublishOrder(string kind)
    {
        const int levels = 4;

        // -1 is a receive, 0..levels-1 a publish with that priority.
        Gen.Int[-1, levels - 1].Array[0, 120].Sample(ops =>
        {
            var time = NewTime();
            var store = Create(kind, levels, time);
            var model = new List<(int Priority, int Order)>();
            var published = 0;

            void ReceiveAndCheck()
            {
                var expected = model.OrderByDescending(m => m.Priority).ThenBy(m => m.Order).First();
                model.Remove(expected);
                var message = TakeAndAck(store);
                (message.Priority, message.Body).Should().Be(expected);
            }

            foreach (var op in ops)
            {
                if (op >= 0)
                {
                    Publish(store, new Message<int>(published, priority: op));
                    model.Add((op, published++));
                }
                else if (model.Count > 0)
                {
                    ReceiveAndCheck();
                }
            }

            while (model.Count > 0)
            {
                ReceiveAndCheck();
            }
        }, iter: 200);
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("aging")]
    [InlineData("strict")]
    [InlineData("weighted")]
    [InlineData("weighted-long-cycle")]
    [InlineData("deadline")]
    public void BatchReceive_TakesWhatOneAtATimeReceivesTake_InTheSameOrder(string kind)
    {
        // Two stores with the same history, one received from in batches and one a message at a time. An op is
        // a publish at level op % 3 after the clock moves on 0..300 ms, or (negative) a receive of up to -2 × op
        // messages, every third of which is released, so redelivered messages mix in. Publishes outnumber
        // receives, so several levels are often backlogged at once.
        Gen.Select(Gen.Int[-8, 11], Gen.Int[0, 300]).Array[0, 150].Sample(ops =>
        {
            var (batchTime, singleTime) = (NewTime(), NewTime());
            var (batched, single) = (CreateScheduled(kind, batchTime), CreateScheduled(kind, singleTime));
            var published = 0;
            foreach (var (op, ms) in ops)
            {
                if (op >= 0)
                {
                    batchTime.Advance(TimeSpan.FromMilliseconds(ms));
                    singleTime.Advance(TimeSpan.FromMilliseconds(ms));
                    Publish(batched, new Message<int>(published, priority: op % 3));
                    Publish(single, new Message<int>(published++, priority: op % 3));
                    continue;
                }

                var inBatch = ReceiveUpTo(batched, -2 * op);
                var oneByOne = Enumerable.Range(0, -2 * op).Select(_ => TryReceive(single)).TakeWhile(d => d is not null).Select(d => d!.Value).ToArray();
                inBatch.Select(d => d.Message.Body).Should().Equal(oneByOne.Select(d => d.Message.Body));
                ReleaseEveryThirdAckTheRest(batched, inBatch);
                ReleaseEveryThirdAckTheRest(single, oneByOne);
            }
        }, iter: 300);
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task Enqueue_PriorityOutsideTheLevels_ThrowsNamingTheMessageAndStoresNothing(string kind)
    {
        await using var store = Create(kind, 3, NewTime());

        await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<int>(1, priority: 3)).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("message");
        await FluentActions.Awaiting(() => store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2, priority: 200)]).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("message");

        (await store.GetStatisticsAsync()).Ready.Should().Be(0);
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task Priority_SurvivesReleaseExpiryDeadLetterAndRedrive(string kind)
    {
        var time = NewTime();
        await using var store = Create(kind, 3, time);
        Publish(store, new Message<int>(1, "urgent", priority: 2));
        Publish(store, new Message<int>(2, "low", priority: 0));

        var first = TryReceive(store)!.Value;
        first.Message.Id.Should().Be("urgent");
        (await store.ReleaseAsync(first.Lease, TimeSpan.FromSeconds(1))).Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(2));

        var second = TryReceive(store)!.Value;
        second.Message.Should().Match<Message<int>>(m => m.Id == "urgent" && m.Priority == 2, "a delayed release keeps the priority");
        time.Advance(Lease + TimeSpan.FromSeconds(1));

        var third = TryReceive(store)!.Value;
        third.Message.Should().Match<Message<int>>(m => m.Id == "urgent" && m.Priority == 2, "an expired lease keeps the priority");
        third.DeliveryCount.Should().Be(3);
        (await store.DeadLetterAsync(third.Lease, "poison")).Should().BeTrue();
        (await store.GetDeadLettersAsync(10)).Single().Priority.Should().Be(2);

        (await store.RedriveAsync(["urgent"])).Should().Be(1);
        var redriven = TryReceive(store)!.Value;
        redriven.Message.Should().Match<Message<int>>(m => m.Id == "urgent" && m.Priority == 2, "a redrive keeps the priority");
        store.GetReadyCount(0).Should().Be(1);
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task Release_WithinALevel_GoesAheadOfNewerMessagesOfThatLevelOnly(string kind)
    {
        await using var store = Create(kind, 3, NewTime());
        Publish(store, new Message<int>(1, "a", priority: 1));
        Publish(store, new Message<int>(2, "b", priority: 1));
        var a = TryReceive(store)!.Value;
        Publish(store, new Message<int>(3, "top", priority: 2));

        (await store.ReleaseAsync(a.Lease)).Should().BeTrue();

        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("top", "a", "b");
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task ReleasedAndExpired_ComeBackInPublishOrder_WhateverOrderTheyEnded(string kind)
    {
        var time = NewTime();
        await using var store = Create(kind, 3, time);
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            Publish(store, new Message<int>(0, id, priority: 1));
        }

        var a = TryReceive(store)!.Value;
        var b = TryReceive(store)!.Value;
        var c = TryReceive(store)!.Value;
        (await store.ReleaseAsync(c.Lease)).Should().BeTrue();
        (await store.ReleaseAsync(a.Lease)).Should().BeTrue();
        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("a", "c");

        // Now e is released before b and d expire: all three come back in publish order.
        Publish(store, new Message<int>(0, "e", priority: 1));
        (await store.ReleaseAsync(b.Lease)).Should().BeTrue();
        var leased = new[] { TryReceive(store)!.Value, TryReceive(store)!.Value, TryReceive(store)!.Value };
        leased.Select(d => d.Message.Id).Should().Equal("b", "d", "e");
        (await store.ReleaseAsync(leased[2].Lease)).Should().BeTrue();
        time.Advance(Lease);

        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("b", "d", "e");
    }

    [Fact]
    public async Task Aging_WithManyLevelsAndALongBound_RaisesAnOldLowMessageAboveAFreshHighOne()
    {
        // The aging arithmetic must not overflow: 255 levels, a day's bound, 20 hours of waiting.
        var time = NewTime();
        await using var store = MessageStore.CreatePriority<int>("aging-wide", new PriorityQueueOptions { Levels = 255, AgingMaxWait = TimeSpan.FromDays(1) }, time);
        Publish(store, new Message<int>(0, "old-low", priority: 0));
        time.Advance(TimeSpan.FromHours(20));
        Publish(store, new Message<int>(200, "fresh-high", priority: 200));

        // Raised linearly from level 0 towards 254 over the day: about level 211 after 20 hours.
        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("old-low", "fresh-high");
    }

    [Fact]
    public async Task Aging_UnderAContinuousHighPriorityFlood_NoMessageWaitsBeyondItsBound()
    {
        var bound = TimeSpan.FromMilliseconds(100);
        var time = NewTime();
        await using var store = MessageStore.CreatePriority<int>("aging", new PriorityQueueOptions { Levels = 3, AgingMaxWait = bound }, time);
        var maxWait = new TimeSpan[3];
        var served = new int[3];

        // Each millisecond one top-priority message arrives and one message is served, so the top level is never
        // empty; every 100 ms a low and a mid message arrive, with one extra receive each to keep pace.
        for (var step = 0; step < 5_000; step++)
        {
            Publish(store, new Message<int>(step, priority: 2));
            var receives = 1;
            if (step % 100 == 0)
            {
                Publish(store, new Message<int>(step, priority: 0));
                receives++;
            }

            if (step % 100 == 50)
            {
                Publish(store, new Message<int>(step, priority: 1));
                receives++;
            }

            time.Advance(TimeSpan.FromMilliseconds(1));
            for (var i = 0; i < receives; i++)
            {
                var message = TakeAndAck(store);
                var wait = time.GetUtcNow() - message.EnqueuedAt;
                maxWait[message.Priority] = wait > maxWait[message.Priority] ? wait : maxWait[message.Priority];
                served[message.Priority]++;
            }
        }

        served[0].Should().BeGreaterThan(45, "low messages are served despite the flood");
        served[1].Should().BeGreaterThan(45, "mid messages are served despite the flood");
        maxWait.Should().AllSatisfy(w => w.Should().BeLessThanOrEqualTo(bound + TimeSpan.FromMilliseconds(2)));
    }

    [Fact]
    public async Task WithoutAging_AContinuousHighPriorityFlood_StarvesTheLowLevel()
    {
        var time = NewTime();
        await using var store = MessageStore.CreatePriority<int>("strict", new PriorityQueueOptions { Levels = 3 }, time);
        Publish(store, new Message<int>(-1, priority: 0));

        for (var step = 0; step < 1_000; step++)
        {
            Publish(store, new Message<int>(step, priority: 2));
            time.Advance(TimeSpan.FromMilliseconds(1));
            TakeAndAck(store).Priority.Should().Be(2);
        }

        store.GetReadyCount(0).Should().Be(1, "strict order serves the flood first, which is why aging exists");
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task ForLevel_ReceivesOnlyItsLevel_AndDisposingItLeavesTheStoreOpen(string kind)
    {
        await using var store = Create(kind, 3, NewTime());
        Publish(store, new Message<int>(1, "top", priority: 2));
        Publish(store, new Message<int>(2, "low", priority: 0));

        var low = store.ForLevel(0);
        TakeAndAck(low).Id.Should().Be("low");
        var buffer = new Delivery<int>[1];
        var parked = low.ReceiveAsync(buffer, Lease).AsTask();
        parked.IsCompleted.Should().BeFalse("only a top-level message is ready");

        Publish(store, new Message<int>(3, "low-2", priority: 0));
        (await parked.WaitAsync(Patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("low-2");

        await low.DisposeAsync();
        store.ForLevel(0).Should().BeSameAs(low);
        TakeAndAck(store).Id.Should().Be("top");
        FluentActions.Invoking(() => store.ForLevel(3)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("level");
        FluentActions.Invoking(() => store.ForLevel(-1)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("level");
    }

    [Fact]
    public async Task DelayedRelease_WakesTheParkedReceiverOfItsOwnLevel_EvenWithOtherLevelsParkedFirst()
    {
        // Regression: a delayed message becoming ready used to wake "any" parked receivers in turn, which could
        // be receivers of other levels, leaving the message's own level receiver parked with a message ready.
        var time = NewTime();
        await using var store = MessageStore.CreateMultiQueue<int>("wake", new MultiQueueOptions { Levels = 3 }, time);
        Publish(store, new Message<int>(1, "top", priority: 2));
        var delivery = TryReceive(store)!.Value;
        (await store.ReleaseAsync(delivery.Lease, TimeSpan.FromSeconds(1))).Should().BeTrue();

        var lowBuffer = new Delivery<int>[1];
        var topBuffer = new Delivery<int>[1];
        var lowReceive = store.ForLevel(0).ReceiveAsync(lowBuffer, Lease).AsTask();
        var topReceive = store.ForLevel(2).ReceiveAsync(topBuffer, Lease).AsTask();
        time.Advance(TimeSpan.FromSeconds(2));

        (await topReceive.WaitAsync(Patience)).Should().Be(1);
        topBuffer[0].Message.Id.Should().Be("top");
        lowReceive.IsCompleted.Should().BeFalse();
    }

    private static IPriorityMessageStore<int> CreateScheduled(string kind, TimeProvider time) => kind switch
    {
        "aging" => Create("priority", 3, time, aging: TimeSpan.FromSeconds(1)),
        "weighted" => MessageStore.CreateMultiQueue<int>("weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted(70, 20, 10) }, time),

        // A cycle of 10,000 turns is too long for a table, so these weights take the credit-counting path.
        "weighted-long-cycle" => MessageStore.CreateMultiQueue<int>("weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted(7_001, 1_999, 1_000) }, time),
        "deadline" => MessageStore.CreateMultiQueue<int>("deadline", new MultiQueueOptions
        {
            Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
        }, time),
        _ => Create(kind, 3, time),
    };

    private static Delivery<int>[] ReceiveUpTo(IMessageStore<int> store, int max)
    {
        if (Sync(store.GetStatisticsAsync()).Ready == 0)
        {
            return [];
        }

        var buffer = new Delivery<int>[max];
        return buffer[..Sync(store.ReceiveAsync(buffer, Lease))];
    }

    private static void ReleaseEveryThirdAckTheRest(IMessageStore<int> store, Delivery<int>[] deliveries)
    {
        for (var i = 0; i < deliveries.Length; i++)
        {
            var settled = i % 3 == 2 ? store.ReleaseAsync(deliveries[i].Lease) : store.AckAsync(deliveries[i].Lease);
            Sync(settled).Should().BeTrue();
        }
    }
}
