using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.Retry;

namespace MessagingPatterns.Tests.Consumers;

public sealed class ConsumerWorkerPoolTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Handler_ReturningNormally_AcknowledgesEveryMessage()
    {
        await using var store = MessageStore.CreateInMemory<int>("orders", timeProvider: _time);
        var handled = new ConcurrentBag<int>();
        var all = new TaskCompletionSource();
        await using var pool = PoolFactory.Create<int>(store, (context, _) =>
        {
            handled.Add(context.Body);
            if (handled.Count == 100)
            {
                all.TrySetResult();
            }

            return Task.CompletedTask;
        }, new ConsumerOptions { Concurrency = 4, PrefetchCount = 8 }, _time);

        await pool.StartAsync(default);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 100).Select(i => new Message<int>(i)).ToArray());
        await all.Task.Within();
        await pool.StopAsync(default).Within();

        handled.Order().Should().Equal(Enumerable.Range(0, 100));
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Handler_AlwaysThrowing_IsDeadLetteredAfterExactlyMaxDeliveryAttempts_WithTheExceptionAsReason()
    {
        await using var store = MessageStore.CreateInMemory<string>("poison", timeProvider: _time);
        var deliveries = new ConcurrentQueue<int>();
        var lastAttempt = new TaskCompletionSource();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            MaxDeliveryAttempts = 3,
            RedeliveryDelay = TimeSpan.Zero,
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        await using var pool = PoolFactory.Create<string>(store, (context, _) =>
        {
            deliveries.Enqueue(context.DeliveryCount);
            if (context.DeliveryCount == 3)
            {
                lastAttempt.TrySetResult();
            }

            throw new FormatException("cannot parse " + context.Body);
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x", "poison-1"));
        await pool.StartAsync(default);
        await lastAttempt.Task.Within();
        await pool.StopAsync(default).Within();

        deliveries.Should().Equal(1, 2, 3);
        var deadLetters = await store.GetDeadLettersAsync(10);
        deadLetters.Should().ContainSingle();
        deadLetters[0].MessageId.Should().Be("poison-1");
        deadLetters[0].Reason.Should().Be("System.FormatException: cannot parse x");
        deadLetters[0].DeliveryCount.Should().Be(3);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 1));
    }

    [Fact]
    public async Task Delivery_OverMaxDeliveryAttempts_IsDeadLetteredWithoutRunningTheHandler()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("crashing", timeProvider: _time));
        await using var disposeStore = store;
        await store.EnqueueAsync(new Message<string>("x", "crash-1"));

        // Two consumers took the message and died handling it: their leases ran out unsettled.
        var buffer = new Delivery<string>[1];
        for (var i = 0; i < 2; i++)
        {
            (await store.ReceiveAsync(buffer, TimeSpan.FromSeconds(30)).Within()).Should().Be(1);
            _time.Advance(TimeSpan.FromSeconds(31));
        }

        var handled = 0;
        await using var pool = PoolFactory.Create<string>(store, (_, _) =>
        {
            Interlocked.Increment(ref handled);
            return Task.CompletedTask;
        }, new ConsumerOptions { Concurrency = 1, MaxDeliveryAttempts = 2 }, _time);
        await pool.StartAsync(default);

        (await store.NextSettlementAsync()).Should().Be(("dead-letter", true));
        handled.Should().Be(0, "the handler had its two attempts");
        var deadLetter = (await store.GetDeadLettersAsync(1)).Single();
        deadLetter.Message!.Id.Should().Be("crash-1");
        deadLetter.DeliveryCount.Should().Be(3);
        deadLetter.Reason.Should().Be("Delivered 3 times, over the 2 allowed, without being settled (its consumer stopped while handling it, for example).");
    }

    [Theory]
    [InlineData(2, 1, "ack")]
    [InlineData(3, 1, "dead-letter")]
    public async Task DefaultPipeline_RetriesWithinOneDelivery_ThenSettles(int failures, int maxDeliveries, string settlement)
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("retries", timeProvider: _time));
        await using var disposeStore = store;
        var attempts = new ConcurrentQueue<int>();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            MaxDeliveryAttempts = maxDeliveries,
            RetryCount = 2,
            RetryBaseDelay = TimeSpan.Zero,
        };
        await using var pool = PoolFactory.Create<string>(store, (context, _) =>
        {
            attempts.Enqueue(context.DeliveryCount);
            return attempts.Count <= failures ? throw new IOException($"attempt {attempts.Count}") : Task.CompletedTask;
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);

        (await store.NextSettlementAsync()).Should().Be((settlement, true));
        attempts.Should().Equal(1, 1, 1);
        if (settlement == "dead-letter")
        {
            (await store.GetDeadLettersAsync(1)).Single().Reason.Should().Be("System.IO.IOException: attempt 3");
        }
    }

    [Fact]
    public async Task Context_DeadLetter_DeadLettersAtOnceWithTheGivenReason()
    {
        await using var store = MessageStore.CreateInMemory<string>("explicit", timeProvider: _time);
        var calls = 0;
        var settled = new TaskCompletionSource();
        await using var pool = PoolFactory.Create<string>(store, (context, _) =>
        {
            Interlocked.Increment(ref calls);
            context.DeadLetter("unknown customer");
            settled.TrySetResult();
            return Task.CompletedTask;
        }, new ConsumerOptions { Concurrency = 1 }, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await settled.Task.Within();
        await pool.StopAsync(default).Within();

        calls.Should().Be(1);
        (await store.GetDeadLettersAsync(10)).Single().Reason.Should().Be("unknown customer");
    }

    [Fact]
    public async Task Context_SettlementAskedForByAFailedAttempt_IsForgotten_WhenTheRetryThatFollowsSucceeds()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("second-thoughts", timeProvider: _time));
        await using var disposeStore = store;
        var attempts = 0;
        var retryAtOnce = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 1, Delay = TimeSpan.Zero }).Build();
        await using var pool = PoolFactory.Create<string>(store, (context, _) =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                context.DeadLetter("looks poisonous");
                throw new IOException("a transient failure after all");
            }

            return Task.CompletedTask;
        }, new ConsumerOptions { Concurrency = 1, ResiliencePipeline = retryAtOnce }, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        (await store.NextSettlementAsync()).Should().Be(("ack", true), "the attempt that finished returned normally");
        await pool.StopAsync(default).Within();

        attempts.Should().Be(2);
        (await store.GetDeadLettersAsync(10)).Should().BeEmpty();
    }

    [Fact]
    public async Task Context_RetryAfter_DelaysTheNextDeliveryByTheGivenTime()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("retry", timeProvider: _time));
        await using var disposeStore = store;
        var deliveries = new ConcurrentQueue<int>();
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        await using var pool = PoolFactory.Create<string>(store, (context, _) =>
        {
            deliveries.Enqueue(context.DeliveryCount);
            if (context.DeliveryCount == 1)
            {
                context.RetryAfter(TimeSpan.FromMinutes(5));
                first.TrySetResult();
            }
            else
            {
                second.TrySetResult();
            }

            return Task.CompletedTask;
        }, new ConsumerOptions { Concurrency = 1 }, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await first.Task.Within();
        (await store.NextSettlementAsync()).Should().Be(("release", true));
        (await store.GetStatisticsAsync()).Delayed.Should().Be(1);

        _time.Advance(TimeSpan.FromMinutes(5));
        await second.Task.Within();
        await pool.StopAsync(default).Within();

        deliveries.Should().Equal(1, 2);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task HangingHandler_IsCancelledAtTheHandlerTimeout_AndTheAttemptFailsWithATimeout()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("hang", timeProvider: _time));
        await using var disposeStore = store;
        var started = new TaskCompletionSource();
        var sawCancellation = new TaskCompletionSource();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            MaxDeliveryAttempts = 1,
            HandlerTimeout = TimeSpan.FromSeconds(10),
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        await using var pool = PoolFactory.Create<string>(store, async (_, token) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                sawCancellation.TrySetResult();
                throw;
            }
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        _time.Advance(TimeSpan.FromSeconds(9));
        sawCancellation.Task.IsCompleted.Should().BeFalse("the timeout has not passed yet");
        _time.Advance(TimeSpan.FromSeconds(3));

        await sawCancellation.Task.Within();
        (await store.NextSettlementAsync()).Should().Be(("dead-letter", true));
        (await store.GetDeadLettersAsync(1)).Single().Reason.Should().StartWith("System.TimeoutException: The handler did not finish within");
    }

    [Fact]
    public async Task SlowHandler_WithLeaseRenewal_KeepsItsMessagePastTheLease()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("slow", timeProvider: _time));
        await using var disposeStore = store;
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var options = new ConsumerOptions { Concurrency = 1, LeaseDuration = TimeSpan.FromSeconds(30), HandlerTimeout = TimeSpan.FromHours(1) };
        await using var pool = PoolFactory.Create<string>(store, async (_, _) =>
        {
            started.TrySetResult();
            await finish.Task;
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        for (var i = 0; i < 12; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 1, 0), "two minutes in, the 30 s lease is still held");
        finish.SetResult();
        (await store.NextSettlementAsync()).Should().Be(("ack", true));
        await pool.StopAsync(default).Within();
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task LeaseRenewal_ThatFailsForOneLease_StillRenewsTheOthers()
    {
        await using var inner = MessageStore.CreateInMemory<int>("renew-fails", timeProvider: _time);
        var store = new RenewalFailsForOneLeaseStore<int>(inner);
        await store.EnqueueBatchAsync([new Message<int>(0), new Message<int>(1)]);
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 2, LeaseDuration = TimeSpan.FromSeconds(30), HandlerTimeout = TimeSpan.FromHours(1) };
        await using var pool = PoolFactory.Create<int>(store, async (context, _) =>
        {
            if (context.Body == 0 && context.DeliveryCount == 1)
            {
                store.FailingLease = context.Delivery.Lease;
                started.SetResult();
                await finish.Task;
            }
        }, options, _time);

        await pool.StartAsync(default);
        await started.Task.Within();
        for (var i = 0; i < 12; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        try
        {
            (await inner.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 1, 0), "the lease that could not be renewed ended; the prefetched message's lease is still held");
        }
        finally
        {
            finish.SetResult();
        }
    }

    [Fact]
    public async Task SlowHandler_WithoutLeaseRenewal_LosesItsLease_AndItsLateAckDeletesNothing()
    {
        await using var store = MessageStore.CreateInMemory<string>("expiring", timeProvider: _time);
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var options = new ConsumerOptions { Concurrency = 1, LeaseDuration = TimeSpan.FromSeconds(30), RenewLeases = false, HandlerTimeout = TimeSpan.FromHours(1) };
        await using var pool = PoolFactory.Create<string>(store, async (_, _) =>
        {
            started.TrySetResult();
            await finish.Task;
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        _time.Advance(TimeSpan.FromSeconds(31));
        var buffer = new Delivery<string>[1];
        await store.ReceiveAsync(buffer, TimeSpan.FromHours(1)).Within();
        buffer[0].DeliveryCount.Should().Be(2);

        finish.SetResult();
        await pool.StopAsync(default).Within();

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 1, 0), "the stale ack must not delete the redelivered copy");
        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();
    }

    [Fact]
    public async Task Stop_WithHandlersRunningAtTheDeadline_CancelsTheirTokensAndReleasesEverythingUnfinished()
    {
        await using var store = MessageStore.CreateInMemory<int>("shutdown", timeProvider: _time);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 20).Select(i => new Message<int>(i)).ToArray());
        var startedCount = 0;
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawCancellation = new ConcurrentBag<int>();
        var options = new ConsumerOptions { Concurrency = 2, PrefetchCount = 5, ShutdownTimeout = TimeSpan.Zero, HandlerTimeout = TimeSpan.FromHours(1) };
        var pool = PoolFactory.Create<int>(store, async (context, token) =>
        {
            if (Interlocked.Increment(ref startedCount) == 2)
            {
                bothStarted.TrySetResult();
            }

            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                sawCancellation.Add(context.Body);
                throw;
            }
        }, options, _time);

        await pool.StartAsync(default);
        await bothStarted.Task.Within();
        await pool.StopAsync(default).Within();

        sawCancellation.Should().HaveCount(2, "both handlers running at the deadline see their token cancelled");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(20, 0, 0, 0), "everything unfinished is back in the store");
    }

    [Fact]
    public async Task Stop_WhenACancelledHandlerThrowsItsOwnException_ReleasesTheMessageUntouched()
    {
        await using var store = MessageStore.CreateInMemory<string>("wrapped", timeProvider: _time);
        var started = new TaskCompletionSource();
        var options = new ConsumerOptions
        {
            Concurrency = 1,
            MaxDeliveryAttempts = 1,
            ShutdownTimeout = TimeSpan.Zero,
            HandlerTimeout = TimeSpan.FromHours(1),
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        var pool = PoolFactory.Create<string>(store, async (_, token) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException ex)
            {
                throw new InvalidOperationException("import interrupted", ex);
            }
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);
        await started.Task.Within();
        await pool.StopAsync(default).Within();

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 0, 0), "the message is back in the store, not dead-lettered on its only attempt");
    }

    [Fact]
    public async Task Stop_WithinTheDrainTimeout_LetsRunningHandlersFinishAndAcknowledge()
    {
        await using var store = MessageStore.CreateInMemory<int>("drain", timeProvider: _time);
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 4, ShutdownTimeout = TimeSpan.FromHours(1) };
        var (pool, finish, handled) = await StartPoolHoldingItsFirstMessageAsync(store, options);

        var stopping = pool.StopAsync(default);
        finish.SetResult();
        await stopping.Within();

        handled.Should().Equal(0);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(9, 0, 0, 0), "the prefetched messages were released, not handled");
    }

    [Theory]
    [InlineData("create", "System.InvalidOperationException: no scope")]
    [InlineData("dispose", "System.InvalidOperationException: commit failed")]
    public async Task ScopeFailure_FailsTheDelivery_WhichIsRedeliveredThenDeadLettered(string failingStep, string reason)
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("unit-of-work", timeProvider: _time));
        await using var disposeStore = store;
        var scopes = failingStep == "create"
            ? new FailingScopeFactory()
            : new ServiceCollection().AddScoped<CommitOnDispose>().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();
        var consumer = new DelegateConsumer<string>((context, _) =>
        {
            context.Services.GetRequiredService<CommitOnDispose>();
            return Task.CompletedTask;
        });
        var options = new ConsumerOptions { Concurrency = 1, MaxDeliveryAttempts = 2, RedeliveryDelay = TimeSpan.Zero, ResiliencePipeline = ResiliencePipeline.Empty };
        await using var pool = new ConsumerWorkerPool<string>(store, scopes, _ => consumer, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);

        (await store.NextSettlementAsync()).Should().Be(("release", true), "the scope failed, so the first delivery failed");
        (await store.NextSettlementAsync()).Should().Be(("dead-letter", true), "the second delivery was the last");
        (await store.GetDeadLettersAsync(1)).Single().Reason.Should().Be(reason);
    }

    [Fact]
    public async Task LoggerThatThrows_DoesNotEndTheWorker_TheMessageIsReleasedAndHandledAgain()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("bad-logger", timeProvider: _time));
        await using var disposeStore = store;
        var consumer = new DelegateConsumer<string>((context, _) =>
            context.DeliveryCount == 1 ? throw new IOException("transient") : Task.CompletedTask);
        var options = new ConsumerOptions { Concurrency = 1, RedeliveryDelay = TimeSpan.Zero, ResiliencePipeline = ResiliencePipeline.Empty };
        await using var pool = new ConsumerWorkerPool<string>(store, PoolFactory.Scopes, _ => consumer, options, _time, new ThrowingLogger<ConsumerWorkerPool<string>>());

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);

        (await store.NextSettlementAsync()).Should().Be(("release", true), "logging the failure threw, and the worker released the message itself");
        (await store.NextSettlementAsync()).Should().Be(("ack", true), "the same worker went on");
    }

    [Fact]
    public async Task Stop_ReleasesPrefetchedMessagesAtOnce_WhileTheRunningHandlerGoesOn()
    {
        var store = new SettlementProbe<int>(MessageStore.CreateInMemory<int>("prefetched", timeProvider: _time));
        await using var disposeStore = store;
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 4, ShutdownTimeout = TimeSpan.FromHours(1), HandlerTimeout = TimeSpan.FromHours(1) };
        var (pool, finish, handled) = await StartPoolHoldingItsFirstMessageAsync(store, options);

        var stopping = pool.StopAsync(default);
        for (var i = 0; i < 3; i++)
        {
            (await store.NextSettlementAsync()).Should().Be(("release", true), "the three prefetched messages go back before the handler finishes");
        }

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(9, 0, 1, 0));
        stopping.IsCompleted.Should().BeFalse("the running handler is still draining");
        finish.SetResult();
        await stopping.Within();

        (await store.NextSettlementAsync()).Should().Be(("ack", true));
        handled.Should().Equal(0);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(9, 0, 0, 0));
    }

    [Fact]
    public async Task Stop_WhenTheStoreFailsToReleaseOnePrefetchedMessage_ReleasesTheOthersAndReturns()
    {
        await using var inner = MessageStore.CreateInMemory<int>("release-fails", timeProvider: _time);
        var store = new FirstReleaseFailsStore<int>(inner);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 3).Select(i => new Message<int>(i)).ToArray());
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 3, ShutdownTimeout = TimeSpan.FromHours(1), HandlerTimeout = TimeSpan.FromHours(1) };
        var pool = PoolFactory.Create<int>(store, async (_, _) =>
        {
            started.TrySetResult();
            await finish.Task;
        }, options, _time);

        await pool.StartAsync(default);
        await started.Task.Within();
        var stopping = pool.StopAsync(default);
        await store.SecondRelease.Within();
        finish.SetResult();
        await stopping.Within();

        (await inner.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 1, 0), "one message was released; the one whose release failed stays leased until its lease ends");
    }

    [Fact]
    public async Task Dispose_AfterTheWorkersEndedOnTheirOwn_StopsThePoolsTimers()
    {
        var time = new TimerCallbackCounter(_time);
        await using var inner = MessageStore.CreateInMemory<int>("ended", timeProvider: _time);
        var store = new PendingReceiveStore<int>(inner);
        var pool = PoolFactory.Create<int>(store, (_, _) => Task.CompletedTask, new ConsumerOptions { Concurrency = 1 }, time);
        await pool.StartAsync(default);
        await store.Awaited.Within();

        // The store is disposed under the pool: the pending receive fails and the worker ends (inline, here).
        store.FailReceive(new ObjectDisposedException("ended"));
        await pool.DisposeAsync().Within();

        var fired = time.Fired;
        _time.Advance(TimeSpan.FromMinutes(5));
        time.Fired.Should().Be(fired, "no timer of a disposed pool fires");
    }

    [Fact]
    public async Task Worker_EndedByADisposedStore_IsLogged()
    {
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        await using var inner = MessageStore.CreateInMemory<int>("disposed-under", timeProvider: _time);
        var store = new PendingReceiveStore<int>(inner);
        var consumer = new DelegateConsumer<int>((_, _) => Task.CompletedTask);
        var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => consumer, new ConsumerOptions { Concurrency = 1 }, _time, logger);
        await pool.StartAsync(default);
        await store.Awaited.Within();

        store.FailReceive(new ObjectDisposedException("the store"));
        await pool.DisposeAsync().Within();

        logger.Entries.Should().ContainSingle(e => e.Exception is ObjectDisposedException)
            .Which.Should().Match<(LogLevel Level, string Message, Exception? Exception)>(e => e.Level == LogLevel.Warning && e.Message.Contains("disposed-under"));
    }

    [Fact]
    public async Task EachAttempt_GetsAFreshScopeAndConsumer()
    {
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>("fresh-scopes", timeProvider: _time));
        await using var disposeStore = store;
        await using var services = new ServiceCollection().AddScoped<AttemptCounter>().BuildServiceProvider();
        var counts = new ConcurrentQueue<int>();
        var consumers = new ConcurrentQueue<IConsumer<string>>();
        var options = new ConsumerOptions { Concurrency = 1, MaxDeliveryAttempts = 1, RetryCount = 2, RetryBaseDelay = TimeSpan.Zero };
        await using var pool = new ConsumerWorkerPool<string>(store, services.GetRequiredService<IServiceScopeFactory>(), _ =>
        {
            var consumer = new DelegateConsumer<string>((context, _) =>
            {
                counts.Enqueue(++context.Services.GetRequiredService<AttemptCounter>().Count);
                throw new IOException("left the unit of work dirty");
            });
            consumers.Enqueue(consumer);
            return consumer;
        }, options, _time);

        await store.EnqueueAsync(new Message<string>("x"));
        await pool.StartAsync(default);

        (await store.NextSettlementAsync()).Should().Be(("dead-letter", true));
        counts.Should().Equal([1, 1, 1], "each of the three attempts ran in a scope of its own");
        consumers.Distinct().Should().HaveCount(3);
    }

    [Fact]
    public async Task Start_AfterStop_Throws()
    {
        await using var store = MessageStore.CreateInMemory<int>("restart", timeProvider: _time);
        var pool = PoolFactory.Create<int>(store, (_, _) => Task.CompletedTask, new ConsumerOptions(), _time);
        await pool.StartAsync(default);
        await pool.StopAsync(default).Within();

        await FluentActions.Awaiting(() => pool.StartAsync(default)).Should().ThrowAsync<InvalidOperationException>();
    }

    [Theory]
    [InlineData(nameof(ConsumerOptions.Concurrency))]
    [InlineData(nameof(ConsumerOptions.PrefetchCount))]
    [InlineData(nameof(ConsumerOptions.LeaseDuration))]
    [InlineData(nameof(ConsumerOptions.MaxDeliveryAttempts))]
    [InlineData(nameof(ConsumerOptions.HandlerTimeout))]
    public void Constructor_WithANonPositiveOption_ThrowsNamingTheOption(string option)
    {
        var options = new ConsumerOptions();
        var property = typeof(ConsumerOptions).GetProperty(option)!;
        property.SetValue(options, property.PropertyType == typeof(TimeSpan) ? TimeSpan.Zero : 0);
        var store = MessageStore.CreateInMemory<int>("invalid", timeProvider: _time);

        var act = () => PoolFactory.Create<int>(store, (_, _) => Task.CompletedTask, options, _time);

        act.Should().Throw<OptionsValidationException>().WithMessage($"*{option}*");
    }

    [Fact]
    public void Constructor_WithNullArguments_ThrowsNamingTheParameter()
    {
        var store = MessageStore.CreateInMemory<int>("nulls", timeProvider: _time);
        var scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();

        FluentActions.Invoking(() => new ConsumerWorkerPool<int>(null!, scopes!, _ => null!, new ConsumerOptions()))
            .Should().Throw<ArgumentNullException>().WithParameterName("store");
        FluentActions.Invoking(() => new ConsumerWorkerPool<int>(store, null!, _ => null!, new ConsumerOptions()))
            .Should().Throw<ArgumentNullException>().WithParameterName("scopeFactory");
        FluentActions.Invoking(() => new ConsumerWorkerPool<int>(store, scopes!, null!, new ConsumerOptions()))
            .Should().Throw<ArgumentNullException>().WithParameterName("consumerFactory");
        FluentActions.Invoking(() => new ConsumerWorkerPool<int>(store, scopes!, _ => null!, null!))
            .Should().Throw<ArgumentNullException>().WithParameterName("options");
    }

    /// <summary>A unit of work that commits when its scope ends, and fails to.</summary>
    /// <summary>
    /// Publishes messages 0 to 9 and starts a pool whose handler holds the first message until <c>Finish</c> is set,
    /// recording each body it handled; returns once that handler is running.
    /// </summary>
    private async Task<(ConsumerWorkerPool<int> Pool, TaskCompletionSource Finish, ConcurrentBag<int> Handled)> StartPoolHoldingItsFirstMessageAsync(
        IMessageStore<int> store, ConsumerOptions options)
    {
        await store.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(i => new Message<int>(i)).ToArray());
        var started = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var handled = new ConcurrentBag<int>();
        var pool = PoolFactory.Create<int>(store, async (context, _) =>
        {
            started.TrySetResult();
            await finish.Task;
            handled.Add(context.Body);
        }, options, _time);

        await pool.StartAsync(default);
        await started.Task.Within();
        return (pool, finish, handled);
    }

    private sealed class AttemptCounter
    {
        public int Count { get; set; }
    }

    private sealed class CommitOnDispose : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.FromException(new InvalidOperationException("commit failed"));
    }

    private sealed class FailingScopeFactory : IServiceScopeFactory
    {
        public IServiceScope CreateScope() => throw new InvalidOperationException("no scope");
    }

    private sealed class ThrowingLogger<T> : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("the log sink is down");
    }

    /// <summary>A clock that counts the callbacks of the timers created from it.</summary>
    private sealed class TimerCallbackCounter(TimeProvider inner) : TimeProvider
    {
        private int _fired;

        public int Fired => Volatile.Read(ref _fired);

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(s =>
            {
                Interlocked.Increment(ref _fired);
                callback(s);
            }, state, dueTime, period);
    }

    /// <summary>
    /// A store whose receive stays pending until the test fails it. The failure runs the awaiting worker's
    /// continuation inline, so the worker has ended when <see cref="FailReceive"/> returns.
    /// </summary>
    private sealed class PendingReceiveStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner), IValueTaskSource<int>
    {
        private readonly TaskCompletionSource _awaited = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private ManualResetValueTaskSourceCore<int> _receive;

        /// <summary>Completes once a worker awaits its receive.</summary>
        public Task Awaited => _awaited.Task;

        public override ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
            new(this, _receive.Version);

        public void FailReceive(Exception exception) => _receive.SetException(exception);

        int IValueTaskSource<int>.GetResult(short token) => _receive.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _receive.GetStatus(token);

        void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            _receive.OnCompleted(continuation, state, token, flags);
            _awaited.TrySetResult();
        }
    }

    /// <summary>A store whose first release fails (a broker connection cut mid-shutdown).</summary>
    private sealed class FirstReleaseFailsStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner)
    {
        private readonly TaskCompletionSource _secondRelease = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _releases;

        /// <summary>Completes when the release after the failed one has been done.</summary>
        public Task SecondRelease => _secondRelease.Task;

        public override async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _releases) == 1)
            {
                throw new IOException("connection lost");
            }

            var released = await base.ReleaseAsync(lease, delay, cancellationToken);
            _secondRelease.TrySetResult();
            return released;
        }
    }

    /// <summary>A store that fails to renew one lease, whenever asked.</summary>
    private sealed class RenewalFailsForOneLeaseStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner)
    {
        public LeaseToken? FailingLease { get; set; }

        public override ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
            lease == FailingLease
                ? ValueTask.FromException<bool>(new IOException("renewal failed"))
                : base.RenewLeaseAsync(lease, leaseDuration, cancellationToken);
    }
}
