using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Polly;

namespace MessagingPatterns.Tests.Consumers;

/// <summary>A handler that never returns holds neither its message nor a stop forever.</summary>
public sealed class ConsumerLivenessTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task HandlerThatNeverReturns_IsAbandonedPastItsTimeoutAndGrace_ItsMessageComesBack_AndThePoolKeepsItsConcurrency()
    {
        var queue = Unique("stuck");
        using var abandoned = new CounterProbe("messagingpatterns.handler.abandoned", queue);
        var logger = new ListLogger<ConsumerWorkerPool<string>>();
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>(queue, timeProvider: _time));
        await using var disposeStore = store;
        var stuckStarted = new TaskCompletionSource();
        var stuck = new TaskCompletionSource();
        var consumer = new DelegateConsumer<string>(async (context, _) =>
        {
            if (context.DeliveryCount == 1)
            {
                // Ignores its token: only the test ends it.
                stuckStarted.TrySetResult();
                await stuck.Task;
            }
        });
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            LeaseDuration = TimeSpan.FromMilliseconds(300),
            HandlerTimeout = TimeSpan.FromMilliseconds(200),
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        var pool = new ConsumerWorkerPool<string>(store, PoolFactory.Scopes, _ => consumer, options, _time, logger);

        await store.EnqueueAsync(new Message<string>("x", "stuck-1"));
        await pool.StartAsync(default);
        await stuckStarted.Task.Within();
        for (var i = 0; i < 1_200 && abandoned.Total == 0; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        // The lease, no longer renewed, ends; the clock then stands still while the new worker handles the message.
        _time.Advance(options.LeaseDuration + TimeSpan.FromMilliseconds(100));

        (await store.NextSettlementAsync()).Should().Be(("ack", true), "the message came back and the worker that replaced the stuck one handled it");
        abandoned.Total.Should().Be(1);
        logger.Entries.Should().Contain(e => e.Level == LogLevel.Error && e.Message.Contains("stuck-1") && e.Message.Contains("abandon"));

        stuck.SetResult();
        (await store.NextSettlementAsync()).Should().Be(("release", false), "the stuck attempt's late settle is stale and changes nothing");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
        await pool.DisposeAsync().Within();
    }

    [Theory]
    [InlineData("stop, then dispose")]
    [InlineData("stop cancelled by the host, then dispose")]
    [InlineData("dispose")]
    public async Task Stop_WithAHandlerThatIgnoresItsCancelledToken_ReturnsAndLeavesItsMessageToItsLease(string how)
    {
        // Real time: the pool waits its shutdown timeout and then the documented bound, and nothing else.
        await using var store = MessageStore.CreateInMemory<string>(Unique("never-ends"));
        var started = new TaskCompletionSource();
        var never = new TaskCompletionSource();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            ShutdownTimeout = TimeSpan.FromMilliseconds(100),
            LeaseDuration = TimeSpan.FromHours(1),
            HandlerTimeout = TimeSpan.FromHours(1),
        };
        var pool = PoolFactory.Create<string>(store, async (_, _) =>
        {
            started.TrySetResult();
            await never.Task;
        }, options);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        try
        {
            if (how.StartsWith("stop", StringComparison.Ordinal))
            {
                await pool.StopAsync(new CancellationToken(canceled: how.Contains("cancelled"))).Within();
            }

            await pool.DisposeAsync().Within();

            (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 1, 0), "a handler may still be working on it: it is left to its lease, not released");
        }
        finally
        {
            never.SetResult();
        }
    }

    [Fact]
    public async Task HandlerIgnoringItsToken_ThatReturnsNormallyAfterTheTimeout_FailsWithATimeout_AndIsNotAcknowledged()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>(Unique("late"), timeProvider: _time));
        await using var disposeStore = store;
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            MaxDeliveryAttempts = 1,
            HandlerTimeout = TimeSpan.FromSeconds(10),
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        await using var pool = PoolFactory.Create<string>(store, async (_, _) =>
        {
            started.TrySetResult();
            await finish.Task;
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        _time.Advance(TimeSpan.FromSeconds(12));
        finish.SetResult();

        (await store.NextSettlementAsync()).Should().Be(("dead-letter", true), "a handler that returns after its token was cancelled may have given up half way");
        (await store.GetDeadLettersAsync(1)).Single().Reason.Should().StartWith("System.TimeoutException: The handler did not finish within");
    }

    [Fact]
    public async Task LeaseDurationUnderThreeMilliseconds_NeverAsksForATimerPeriodUnderOneMillisecond()
    {
        var time = new PeriodRecorder(_time);
        await using var store = MessageStore.CreateInMemory<int>(Unique("tiny-lease"), timeProvider: _time);
        await using var pool = PoolFactory.Create<int>(store, (_, _) => Task.CompletedTask, new ConsumerOptions { Concurrency = 1, LeaseDuration = TimeSpan.FromMilliseconds(2) }, time);

        await pool.StartAsync(default);

        time.Periods.Should().NotBeEmpty().And.OnlyContain(p => p >= TimeSpan.FromMilliseconds(1), "a system timer truncates its period to whole milliseconds, and a zero period fires once");
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>A clock that records the period of every periodic timer created from it.</summary>
    private sealed class PeriodRecorder(TimeProvider inner) : TimeProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _periods = new();

        public IReadOnlyCollection<TimeSpan> Periods => _periods;

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (period != Timeout.InfiniteTimeSpan)
            {
                _periods.Enqueue(period);
            }

            return inner.CreateTimer(callback, state, dueTime, period);
        }
    }
}
