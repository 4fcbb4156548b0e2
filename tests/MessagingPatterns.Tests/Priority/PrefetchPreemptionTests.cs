using System.Threading.Channels;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging;
using Polly;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

/// <summary>The hand-back that keeps a prefetch from inverting priorities, store by store and through a pool.</summary>
public sealed class PrefetchPreemptionTests
{
    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task HandBack_MakesMessagesReadyInTheirPlace_WithoutCountingADelivery(string kind)
    {
        await using var store = Create(kind, 3, NewTime());
        var preemptible = store.Should().BeAssignableTo<IPreemptibleStore<int>>().Subject;
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2), new Message<int>(3)]);
        var buffer = new Delivery<int>[3];
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(3);

        Sync(preemptible.HasReadyAheadOfAsync(buffer[1].Message)).Should().BeFalse();
        Publish(store, new Message<int>(9, priority: 2));
        Sync(preemptible.HasReadyAheadOfAsync(buffer[1].Message)).Should().BeTrue("a publish not yet ordered into its level counts");
        Sync(preemptible.HasReadyAheadOfAsync(new Message<int>(0, priority: 2))).Should().BeFalse("nothing is above the top level");

        Sync(preemptible.HandBackAsync([buffer[1].Lease, buffer[2].Lease])).Should().Be(2);
        Sync(preemptible.HandBackAsync([buffer[1].Lease])).Should().Be(0, "a lease handed back has ended");
        Sync(store.AckAsync(buffer[2].Lease)).Should().BeFalse("a lease handed back has ended");

        var again = new Delivery<int>[3];
        Sync(store.ReceiveAsync(again, Lease)).Should().Be(3);
        again.Select(d => d.Message.Body).Should().Equal(9, 2, 3);
        again.Select(d => d.DeliveryCount).Should().Equal([1, 1, 1], "a message handed back unstarted was not delivered");
    }

    [Fact]
    public async Task WeightedScheduling_NeverAsksForLowerLevelsBack()
    {
        await using var store = MessageStore.CreateMultiQueue<int>("weighted", new MultiQueueOptions
        {
            Levels = 2,
            Scheduler = LevelScheduler.Weighted(1, 1),
        });
        await store.EnqueueBatchAsync([new Message<int>(1, priority: 0), new Message<int>(2, priority: 1)]);
        var buffer = new Delivery<int>[1];
        Sync(store.ForLevel(0).ReceiveAsync(buffer, Lease)).Should().Be(1);

        // The weights give level 0 its share on purpose; handing it back would take that share away.
        Sync(((IPreemptibleStore<int>)store).HasReadyAheadOfAsync(buffer[0].Message)).Should().BeFalse();
    }

    [Fact]
    public async Task Deadline_KeepsALowerLevelItChoseForItsNearerDeadline_AndYieldsToAMoreUrgentOne()
    {
        var time = NewTime();
        await using var store = CreateDeadline(time);
        await store.EnqueueBatchAsync([new Message<int>(1, priority: 0), new Message<int>(2, priority: 0)]);
        time.Advance(TimeSpan.FromMilliseconds(4900));
        await store.EnqueueAsync(new Message<int>(3, priority: 1));

        // Level 0 has 100 ms left of its 5 s, level 1 all of its 500 ms: the scheduler chose level 0 on purpose.
        var buffer = new Delivery<int>[2];
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(2);
        buffer.Select(d => d.Message.Body).Should().Equal(1, 2);
        var preemptible = (IPreemptibleStore<int>)store;
        Sync(preemptible.HasReadyAheadOfAsync(buffer[1].Message)).Should().BeFalse("the scheduler would choose level 0 again");

        Publish(store, new Message<int>(4, priority: 2));
        Sync(preemptible.HasReadyAheadOfAsync(buffer[1].Message)).Should().BeTrue("the top level's 50 ms target is nearer than level 0's 100 ms");
    }

    [Fact]
    public async Task Aging_KeepsAnAgedMessageItChoseOverFreshUrgentOnes_AndYieldsToAnOlderOne()
    {
        var time = NewTime();
        await using var store = Create("priority", 3, time, aging: TimeSpan.FromSeconds(2));
        await store.EnqueueBatchAsync([new Message<int>(1, priority: 0), new Message<int>(2, priority: 0)]);
        time.Advance(TimeSpan.FromSeconds(2));
        await store.EnqueueAsync(new Message<int>(3, priority: 2));

        // Aged to the top level's rank, and older than the fresh top-level message: the scheduler chose level 0.
        var buffer = new Delivery<int>[2];
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(2);
        buffer.Select(d => d.Message.Body).Should().Equal(1, 2);
        var preemptible = (IPreemptibleStore<int>)store;
        Sync(preemptible.HasReadyAheadOfAsync(buffer[1].Message)).Should().BeFalse("the aged message outranks the fresh one");
        Sync(preemptible.HasReadyAheadOfAsync(new Message<int>(0, priority: 1) { EnqueuedAt = time.GetUtcNow() })).Should()
            .BeTrue("a fresh level-1 message ranks below the top level's");
    }

    [Fact]
    public async Task PreemptionCalls_WithAnAlreadyCancelledToken_ThrowAndHandNothingBack()
    {
        await using var store = Create("strict", 3, NewTime());
        var preemptible = (IPreemptibleStore<int>)store;
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2, priority: 1)]);
        var buffer = new Delivery<int>[1];
        Sync(store.ForLevel(0).ReceiveAsync(buffer, Lease)).Should().Be(1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await FluentActions.Awaiting(() => preemptible.HasReadyAheadOfAsync(buffer[0].Message, cancelled.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();
        await FluentActions.Awaiting(() => preemptible.HandBackAsync([buffer[0].Lease], cancelled.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();
        Sync(store.AckAsync(buffer[0].Lease)).Should().BeTrue("a cancelled hand-back leaves the lease as it was");
    }

    [Fact]
    public async Task ConsumerPool_APreemptionCheckThatThrows_IsLoggedOnce_AndTheMessagesGoOnInTheOrderReceived()
    {
        await using var store = MessageStore.CreateMultiQueue<int>("failing-check", new MultiQueueOptions { Levels = 2, Scheduler = new ThrowingPreemptsScheduler() });
        await store.EnqueueBatchAsync(Enumerable.Range(0, 8).Select(i => new Message<int>(i)).ToArray());
        var started = Channel.CreateUnbounded<int>();
        var gate = new SemaphoreSlim(0);
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 8, ResiliencePipeline = ResiliencePipeline.Empty };
        var consumer = new DelegateConsumer<int>(async (context, ct) =>
        {
            started.Writer.TryWrite(context.Body);
            await gate.WaitAsync(ct);
        });
        await using var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => consumer, options, logger: logger);
        await pool.StartAsync(CancellationToken.None);

        (await started.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be(0);
        await store.EnqueueAsync(new Message<int>(-1, "urgent", priority: 1));
        gate.Release(100);
        var order = new List<int>();
        while (order.Count < 8)
        {
            order.Add(await started.Reader.ReadAsync().AsTask().WaitAsync(Patience));
        }

        await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);
        order.Should().Equal([1, 2, 3, 4, 5, 6, 7, -1], "a check that fails hands nothing back");
        logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("could not ask the store", StringComparison.Ordinal))
            .Should().ContainSingle("the failure is told once, not on each of the 7 checks").Which.Exception.Should().BeOfType<InvalidOperationException>();
    }

    [Fact]
    public async Task HandBack_DoesNotReportTheMessagesFirstStartAgain()
    {
        using var metrics = new MetricsRecorder("first-starts");
        await using var store = MessageStore.CreateMultiQueue<int>("first-starts", new MultiQueueOptions
        {
            Levels = 3,
            Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
        }, NewTime());
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2), new Message<int>(3)]);
        var preemptible = (IPreemptibleStore<int>)store;
        var buffer = new Delivery<int>[3];
        for (var round = 0; round < 3; round++)
        {
            Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(3);
            Sync(preemptible.HandBackAsync([.. buffer.Select(d => d.Lease)])).Should().Be(3);
        }

        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(3);

        // One wait sample per message, from its first lease: three hand-backs are not three more starts.
        metrics.Of("messagingpatterns.priority.wait").Should().HaveCount(3);
    }

    [Fact]
    public async Task Redrive_MakesAMessagesNextStartAFirstStartAgain()
    {
        using var metrics = new MetricsRecorder("redriven-starts");
        await using var store = MessageStore.CreateMultiQueue<int>("redriven-starts", new MultiQueueOptions { Levels = 2 }, NewTime());
        Publish(store, new Message<int>(1));
        var buffer = new Delivery<int>[1];
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(1);
        Sync(store.DeadLetterAsync(buffer[0].Lease, "poison")).Should().BeTrue();

        Sync(store.RedriveDeadLettersAsync(DeadLetterFilter.All)).Should().Be(1);
        Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(1);

        // A redriven message starts its life in the queue again, as its delivery count does.
        metrics.Of("messagingpatterns.priority.wait").Should().HaveCount(2);
    }

    [Fact]
    public async Task Preempts_SeesTheClockOfTheCheck_NotOfTheLastReceive()
    {
        var time = NewTime();
        var scheduler = new ClockRecordingScheduler();
        await using var store = MessageStore.CreateMultiQueue<int>("clock", new MultiQueueOptions { Levels = 2, Scheduler = scheduler }, time);
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2), new Message<int>(3, priority: 1)]);
        var buffer = new Delivery<int>[1];
        Sync(store.ForLevel(0).ReceiveAsync(buffer, Lease)).Should().Be(1);
        time.Advance(TimeSpan.FromMinutes(1));

        // A scheduler that compares waits must not decide on the clock of a receive that may be long past.
        Sync(((IPreemptibleStore<int>)store).HasReadyAheadOfAsync(buffer[0].Message)).Should().BeTrue();
        scheduler.SeenAt.Should().Be(time.GetUtcNow());
    }

    [Theory]
    [InlineData("deadline")]
    [InlineData("aging")]
    public async Task ConsumerPool_EveryLevelBacklogged_DoesNotHandBackWhatTheSchedulerChose(string kind)
    {
        // The store's clock stands still, so its choices do not change while the pool drains it: no hand-back is
        // needed, and each one would cost a receive of 64 and a hand-back of 63 for every message handled.
        const int PerLevel = 200;
        var time = NewTime();
        await using var store = kind == "deadline" ? CreateDeadline(time) : Create("priority", 3, time, aging: TimeSpan.FromSeconds(2));
        await store.EnqueueBatchAsync(Enumerable.Range(0, PerLevel).Select(i => new Message<int>(i, priority: 0)).ToArray());
        time.Advance(kind == "deadline" ? TimeSpan.FromMilliseconds(4900) : TimeSpan.FromSeconds(2));
        await store.EnqueueBatchAsync(Enumerable.Range(0, PerLevel).Select(i => new Message<int>(1000 + i, priority: 1)).ToArray());
        await store.EnqueueBatchAsync(Enumerable.Range(0, PerLevel).Select(i => new Message<int>(2000 + i, priority: 2)).ToArray());

        var handled = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 64, ResiliencePipeline = ResiliencePipeline.Empty };
        var consumer = new DelegateConsumer<int>((_, _) =>
        {
            if (Interlocked.Increment(ref handled) == 3 * PerLevel)
            {
                done.TrySetResult();
            }

            return Task.CompletedTask;
        });
        await using var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => consumer, options, logger: logger);
        await pool.StartAsync(CancellationToken.None);
        await done.Task.WaitAsync(Patience);
        await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);

        logger.Entries.Count(e => e.Message.Contains("handed back", StringComparison.Ordinal)).Should().Be(0);
    }

    [Fact]
    public async Task ConsumerPool_HandingBackForAnUrgentMessage_DoesNotBringPrefetchedOnesNearerTheirDeadLetter()
    {
        // One delivery allowed: if a hand-back counted, every message handed back would be dead-lettered unhandled.
        await using var store = MessageStore.CreatePriority<int>("handback", new PriorityQueueOptions { Levels = 3 });
        await store.EnqueueBatchAsync(Enumerable.Range(0, 20).Select(i => new Message<int>(i)).ToArray());
        var started = Channel.CreateUnbounded<int>();
        var gate = new SemaphoreSlim(0);
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            PrefetchCount = 8,
            MaxDeliveryAttempts = 1,
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        await using var pool = PoolFactory.Create<int>(store, async (context, ct) =>
        {
            started.Writer.TryWrite(context.Body);
            await gate.WaitAsync(ct);
        }, options);
        await pool.StartAsync(CancellationToken.None);

        (await started.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be(0);
        await store.EnqueueAsync(new Message<int>(-1, "urgent", priority: 2));
        gate.Release(100);

        var order = new List<int>();
        while (order.Count < 20)
        {
            order.Add(await started.Reader.ReadAsync().AsTask().WaitAsync(Patience));
        }

        order[0].Should().Be(-1, "the urgent message goes ahead of the 7 prefetched ones");
        order.Skip(1).Should().Equal(Enumerable.Range(1, 19), "the handed-back messages keep their place");
        await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);
        (await store.GetDeadLettersAsync(10)).Should().BeEmpty();
    }

    [Theory]
    [InlineData("hidden", 16, true)]
    [InlineData("hidden", 1, false)]
    [InlineData("priority", 16, false)]
    [InlineData("fifo", 16, false)]
    public async Task ConsumerPool_Start_WarnsWherePrefetchCanInvertPriorities(string store, int prefetch, bool warns)
    {
        await using var priority = MessageStore.CreatePriority<int>("warned");
        await using var fifo = MessageStore.CreateInMemory<int>("warned");
        IMessageStore<int> consumed = store switch
        {
            // A decorator that does not pass the hand-back on, as a broker store that cannot hand back.
            "hidden" => new ForwardingStore<int>(priority),
            "priority" => priority,
            _ => fifo,
        };
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = prefetch };
        await using var pool = new ConsumerWorkerPool<int>(consumed, PoolFactory.Scopes, _ => new DelegateConsumer<int>((_, _) => Task.CompletedTask), options, logger: logger);
        await pool.StartAsync(CancellationToken.None);
        await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);

        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("priority inversion", StringComparison.Ordinal)).ToList();
        (warnings.Count > 0).Should().Be(warns);
        warnings.Where(e => !e.Message.Contains("(ForwardingStore)", StringComparison.Ordinal)).Should().BeEmpty("the warning names the store that hides the hand-back");
    }

    [Fact]
    public async Task StrictRule_WhileAReceiveHoldsTheStoresLock_StillSeesAMoreUrgentLevel()
    {
        var scheduler = new GatedStrictScheduler();
        await using var store = MessageStore.CreateMultiQueue<int>("busy-lock", new MultiQueueOptions { Levels = 3, Scheduler = scheduler }, NewTime());
        var preemptible = (IPreemptibleStore<int>)store;
        Publish(store, new Message<int>(1, priority: 0));
        var held = new Delivery<int>[1];
        Sync(store.ReceiveAsync(held, Lease)).Should().Be(1);
        Publish(store, new Message<int>(2, priority: 2));
        Sync(preemptible.HasReadyAheadOfAsync(held[0].Message)).Should().BeTrue("the urgent message is ordered into its level");

        // A receive on its own thread stops inside the scheduler, holding the store's lock.
        scheduler.Gate.Reset();
        var receiving = Task.Factory.StartNew(() => Sync(store.ReceiveAsync(new Delivery<int>[1], Lease)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        scheduler.Entered.Wait(Bounded.Patience).Should().BeTrue();
        try
        {
            // Before the fix a busy lock answered no, and the worker started its low message.
            Sync(preemptible.HasReadyAheadOfAsync(held[0].Message)).Should().BeTrue("the level bitmap answers for the strict rule, without the lock");
        }
        finally
        {
            scheduler.Gate.Set();
        }

        (await receiving.Within()).Should().Be(1);
    }

    [Fact]
    public async Task HasReadyAheadOf_AMessageOfNoLevelOfTheStore_ThrowsNamingIt()
    {
        await using var store = CreateDeadline(NewTime());

        FluentActions.Invoking(() => ((IPreemptibleStore<int>)store).HasReadyAheadOfAsync(new Message<int>(0, priority: 7)))
            .Should().Throw<ArgumentOutOfRangeException>();
    }

    private static IPriorityMessageStore<int> CreateDeadline(TimeProvider time) =>
        MessageStore.CreateMultiQueue<int>("deadline", new MultiQueueOptions
        {
            Levels = 3,
            Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
        }, time);

    /// <summary>Strict, whose pick waits at <see cref="Gate"/> (under the store's lock) once it is reset.</summary>
    private sealed class GatedStrictScheduler : LevelScheduler
    {
        public ManualResetEventSlim Gate { get; } = new(initialState: true);

        public ManualResetEventSlim Entered { get; } = new();

        public override int SelectLevel(ReadyLevels ready, int max, out int run)
        {
            if (!Gate.IsSet)
            {
                Entered.Set();
                Gate.Wait(Bounded.Patience);
            }

            return Strict.SelectLevel(ready, max, out run);
        }
    }

    /// <summary>Strict, remembering the clock its preemption check was given.</summary>
    private sealed class ClockRecordingScheduler : LevelScheduler
    {
        public DateTimeOffset SeenAt { get; private set; }

        public override int SelectLevel(ReadyLevels ready, int max, out int run) => Strict.SelectLevel(ready, max, out run);

        public override bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt)
        {
            SeenAt = ready.Now;
            return base.Preempts(ready, level, enqueuedAt);
        }
    }

    /// <summary>Strict, with a preemption check that fails, as a user's scheduler with a bug might.</summary>
    private sealed class ThrowingPreemptsScheduler : LevelScheduler
    {
        public override int SelectLevel(ReadyLevels ready, int max, out int run) => Strict.SelectLevel(ready, max, out run);

        public override bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt) => throw new InvalidOperationException("broken");
    }
}
