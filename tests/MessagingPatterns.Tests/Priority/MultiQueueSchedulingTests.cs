using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

public sealed class MultiQueueSchedulingTests
{
    [Fact]
    public async Task Weighted_AllLevelsBacklogged_SharesStayWithinFivePercentOfTheWeights()
    {
        const int receives = 10_000;
        int[] weights = [10, 20, 70];
        await using var store = await CreateBackloggedWeightedStoreAsync(weights, backloggedLevels: 3, receives);

        var counts = new int[3];
        var buffer = new Delivery<int>[1];
        for (var i = 0; i < receives; i++)
        {
            Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(1);
            counts[buffer[0].Message.Priority]++;
        }

        for (var level = 0; level < 3; level++)
        {
            var expected = receives * weights[level] / 100.0;
            counts[level].Should().BeInRange((int)(expected * 0.95), (int)Math.Ceiling(expected * 1.05), $"level {level} has weight {weights[level]}%");
        }
    }

    [Theory]
    [InlineData(new[] { 10, 20, 70 })]
    [InlineData(new[] { 1_000, 1_999, 7_001 })]
    public async Task Weighted_TopLevelIdle_TheBusyLevelsShareInProportionToTheirWeights(int[] weights)
    {
        const int receives = 9_000;
        await using var store = await CreateBackloggedWeightedStoreAsync(weights, backloggedLevels: 2, receives);

        var counts = new int[3];
        var buffer = new Delivery<int>[16];
        for (var taken = 0; taken < receives;)
        {
            var received = Sync(store.ReceiveAsync(buffer.AsMemory(0, Math.Min(buffer.Length, receives - taken)), Lease));
            foreach (var delivery in buffer[..received])
            {
                counts[delivery.Message.Priority]++;
            }

            taken += received;
        }

        var lowShare = (double)weights[0] / (weights[0] + weights[1]);
        counts[0].Should().BeInRange((int)(receives * lowShare * 0.95), (int)Math.Ceiling(receives * lowShare * 1.05));
        counts[1].Should().Be(receives - counts[0]);
    }

    [Fact]
    public async Task Weighted_IdleLevel_GivesItsShareToTheBusyOnes()
    {
        await using var store = MessageStore.CreateMultiQueue<int>(
            "weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted(8, 1, 1) }, NewTime());
        for (var i = 0; i < 10; i++)
        {
            Publish(store, new Message<int>(i, priority: 0));
        }

        Enumerable.Range(0, 10).Select(_ => TakeAndAck(store).Body).Should().Equal(Enumerable.Range(0, 10), "FIFO within a level, with no idle turns");
    }

    [Fact]
    public async Task Publish_ForParkedReceiversOfAnyLevelAndOfOneLevel_WakesTheOneLevelReceiverForItsMessage()
    {
        await using var store = MessageStore.CreateMultiQueue<string>("mixed", new MultiQueueOptions { Levels = 3 }, NewTime());
        var anyLevelBuffer = new Delivery<string>[1];
        var levelZeroBuffer = new Delivery<string>[1];

        // A receive that returns unfinished has parked; the receiver of any level parked first.
        var anyLevel = store.ReceiveAsync(anyLevelBuffer, TimeSpan.FromMinutes(1)).AsTask();
        var levelZero = store.ForLevel(0).ReceiveAsync(levelZeroBuffer, TimeSpan.FromMinutes(1)).AsTask();
        anyLevel.IsCompleted.Should().BeFalse();
        levelZero.IsCompleted.Should().BeFalse();

        // The level-0 message must not spend its wake-up on the receiver of any level, which takes the level-2 one.
        await store.EnqueueBatchAsync([new Message<string>("low", priority: 0), new Message<string>("high", priority: 2)]);

        (await anyLevel.Within()).Should().Be(1);
        (await levelZero.Within()).Should().Be(1);
        anyLevelBuffer[0].Message.Body.Should().Be("high");
        levelZeroBuffer[0].Message.Body.Should().Be("low");
    }

    [Fact]
    public async Task Deadline_ServesTheLevelClosestToItsTarget()
    {
        var time = NewTime();
        await using var store = CreateDeadlineStore("deadline", time);
        Publish(store, new Message<int>(0, "low", priority: 0));
        time.Advance(TimeSpan.FromMilliseconds(4_990));
        Publish(store, new Message<int>(1, "mid", priority: 1));
        Publish(store, new Message<int>(2, "top", priority: 2));

        // Slack: low 10 ms, top 50 ms, mid 500 ms.
        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("low", "top", "mid");
    }

    [Fact]
    public async Task Deadline_WhenAHeadIsAlreadyPastItsTarget_ServesTheHighestLevelFirst()
    {
        var time = NewTime();
        await using var store = CreateDeadlineStore("deadline", time);
        Publish(store, new Message<int>(0, "late-low", priority: 0));
        time.Advance(TimeSpan.FromSeconds(6));
        Publish(store, new Message<int>(1, "mid", priority: 1));
        Publish(store, new Message<int>(2, "top", priority: 2));

        new[] { TakeAndAck(store).Id, TakeAndAck(store).Id, TakeAndAck(store).Id }.Should().Equal("top", "mid", "late-low");
    }

    [Fact]
    public async Task Metrics_ReportWaitingPerLevel_StartLatency_AndDeadlineBreaches()
    {
        var queue = $"metrics-{Guid.NewGuid():N}"[..30];
        var waits = new List<(double Seconds, int Level)>();
        var breaches = new List<int>();
        var waiting = new Dictionary<int, int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name && instrument.Name.StartsWith("messagingpatterns.priority.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (Tag(tags, "messaging.destination.name") as string == queue && instrument.Name == "messagingpatterns.priority.wait")
            {
                waits.Add((value, (int)Tag(tags, "messagingpatterns.priority")!));
            }
        });
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            if (Tag(tags, "messaging.destination.name") as string == queue)
            {
                breaches.Add((int)Tag(tags, "messagingpatterns.priority")!);
            }
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            if (Tag(tags, "messaging.destination.name") as string == queue)
            {
                waiting[(int)Tag(tags, "messagingpatterns.priority")!] = value;
            }
        });
        listener.Start();

        var time = NewTime();
        await using var store = CreateDeadlineStore(queue, time);
        Publish(store, new Message<int>(0, priority: 2));
        Publish(store, new Message<int>(1, priority: 0));
        Publish(store, new Message<int>(2, priority: 0));
        listener.RecordObservableInstruments();
        waiting.Should().Equal(new Dictionary<int, int> { [0] = 2, [1] = 0, [2] = 1 });

        time.Advance(TimeSpan.FromMilliseconds(80));
        TakeAndAck(store).Priority.Should().Be(2);

        waits.Should().Equal((0.08, 2));
        breaches.Should().Equal(2);
    }

    [Fact]
    public async Task Metrics_ABatchReceive_ReportsTheStartOfEachFirstDelivery_AndNoneForARedelivery()
    {
        var queue = $"starts-{Guid.NewGuid():N}"[..30];
        var waits = new List<(double Seconds, int Level)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name && instrument.Name == "messagingpatterns.priority.wait")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            if (Tag(tags, "messaging.destination.name") as string == queue)
            {
                waits.Add((value, (int)Tag(tags, "messagingpatterns.priority")!));
            }
        });
        listener.Start();

        var time = NewTime();
        await using var store = MessageStore.CreateMultiQueue<int>(queue, new MultiQueueOptions { Levels = 3 }, time);
        Publish(store, new Message<int>(0, priority: 1));
        Publish(store, new Message<int>(1, priority: 1));
        time.Advance(TimeSpan.FromMilliseconds(10));
        var first = TryReceive(store)!.Value;
        (await store.ReleaseAsync(first.Lease)).Should().BeTrue();
        Publish(store, new Message<int>(2, priority: 1));
        time.Advance(TimeSpan.FromMilliseconds(5));

        var buffer = new Delivery<int>[8];
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(3);

        buffer[..3].Select(d => d.Message.Body).Should().Equal([0, 1, 2], "the released message goes ahead of the level's fresh ones");
        waits.Should().Equal([(0.01, 1), (0.015, 1), (0.005, 1)], "the redelivery of message 0 is not a start");
    }

    /// <summary>A weighted store with <paramref name="perLevel"/> messages on each of the lowest <paramref name="backloggedLevels"/> levels.</summary>
    private static async Task<IPriorityMessageStore<int>> CreateBackloggedWeightedStoreAsync(int[] weights, int backloggedLevels, int perLevel)
    {
        var store = MessageStore.CreateMultiQueue<int>(
            "weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted([.. weights.Reverse()]) }, NewTime());
        for (var level = 0; level < backloggedLevels; level++)
        {
            await store.EnqueueBatchAsync(Enumerable.Range(0, perLevel).Select(i => new Message<int>(i, priority: level)).ToArray());
        }

        return store;
    }

    private static IPriorityMessageStore<int> CreateDeadlineStore(string name, TimeProvider time) =>
        MessageStore.CreateMultiQueue<int>(
            name,
            new MultiQueueOptions
            {
                Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
            },
            time);

    private static object? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("multi-queue")]
    public async Task GetReadyCount_WithNoReceiver_CountsEveryPublishOfTheLevel(string kind)
    {
        await using var store = kind == "priority"
            ? MessageStore.CreatePriority<int>("counts", new PriorityQueueOptions { Levels = 3 }, NewTime())
            : MessageStore.CreateMultiQueue<int>("counts", new MultiQueueOptions { Levels = 3 }, NewTime());

        await store.EnqueueAsync(new Message<int>(1, priority: 2));
        await store.EnqueueBatchAsync([new Message<int>(2, priority: 0), new Message<int>(3, priority: 2)]);

        store.GetReadyCount(2).Should().Be(2);
        store.GetReadyCount(0).Should().Be(1);
        store.GetReadyCount(1).Should().Be(0);
    }
}
