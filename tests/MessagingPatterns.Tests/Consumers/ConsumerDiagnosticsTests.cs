using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Polly;

namespace MessagingPatterns.Tests.Consumers;

public sealed class ConsumerDiagnosticsTests
{
    private const int Messages = 30;
    private const int MaxAttempts = 3;

    [Fact]
    public async Task Counters_AfterARunWithHandlerFailuresRetriesAndDeadLetters_EqualTheLedger()
    {
        var queue = $"ledger-{Guid.NewGuid():N}"[..24];
        using var metrics = new MetricsRecorder(queue);
        var store = new SettlementProbe<int>(MessageStore.CreateInMemory<int>(queue));
        await using var disposeStore = store;
        var producer = Producer.Create<int>(store);

        // The ledger: what the user's code saw, counted independently of the library's instruments.
        var deliveries = new ConcurrentDictionary<int, int>();
        var failures = 0;
        var options = new ConsumerOptions
        {
            Concurrency = 2,
            MaxDeliveryAttempts = MaxAttempts,
            RedeliveryDelay = TimeSpan.Zero,
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        await using var pool = PoolFactory.Create<int>(store, (context, _) =>
        {
            var attempt = deliveries.AddOrUpdate(context.Message.Body, 1, (_, n) => n + 1);

            // Every fifth message always fails (dead-lettered after its last attempt), the next one fails once.
            if (context.Message.Body % 5 == 0 || (context.Message.Body % 5 == 1 && attempt == 1))
            {
                Interlocked.Increment(ref failures);
                throw new InvalidOperationException($"fault in {context.Message.Body}");
            }

            return Task.CompletedTask;
        }, options);

        var publishedOk = 0;
        for (var i = 0; i < Messages; i++)
        {
            await producer.PublishAsync(new Message<int>(i)).Within();
            publishedOk++;
        }

        // A publish that fails: an already-cancelled token stores nothing.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var refused = await FluentActions.Awaiting(() => producer.PublishAsync(new Message<int>(-1), cancelled.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();

        await pool.StartAsync(default);
        var settled = new Dictionary<string, int>();
        var alwaysFailing = Enumerable.Range(0, Messages).Count(i => i % 5 == 0);
        var failingOnce = Enumerable.Range(0, Messages).Count(i => i % 5 == 1);
        var expectedSettlements = Messages + (alwaysFailing * (MaxAttempts - 1)) + failingOnce;
        for (var i = 0; i < expectedSettlements; i++)
        {
            var (kind, result) = await store.NextSettlementAsync();
            result.Should().BeTrue("every lease is long enough to be settled");
            settled[kind] = settled.GetValueOrDefault(kind) + 1;
        }

        // Stopping waits for the handlers' loops, so every measurement of the last delivery is made.
        await pool.StopAsync(default).Within();
        var deadLetters = await store.GetDeadLettersAsync(Messages).Within();

        var totalDeliveries = deliveries.Values.Sum();
        totalDeliveries.Should().Be(Messages + (alwaysFailing * (MaxAttempts - 1)) + failingOnce, "the ledger itself is what the faults imply");
        deadLetters.Should().HaveCount(alwaysFailing);

        const string Failure = "System.InvalidOperationException";
        metrics.Sum("messaging.client.sent.messages", ("error.type", null)).Should().Be(publishedOk);
        metrics.Sum("messaging.client.sent.messages", ("error.type", refused.Which.GetType().FullName)).Should().Be(1);
        metrics.Sum("messaging.client.consumed.messages").Should().Be(totalDeliveries);
        metrics.Of("messaging.process.duration").Should().HaveCount(totalDeliveries);
        metrics.Of("messaging.process.duration", ("error.type", Failure)).Should().HaveCount(failures);
        metrics.Of("messaging.process.duration", ("error.type", null)).Should().HaveCount(totalDeliveries - failures);
        metrics.Of("messaging.client.operation.duration", ("messaging.operation.name", "ack"), ("error.type", null)).Should().HaveCount(settled["ack"]);
        metrics.Of("messaging.client.operation.duration", ("messaging.operation.name", "release"), ("error.type", null)).Should().HaveCount(settled["release"]);
        metrics.Of("messaging.client.operation.duration", ("messaging.operation.name", "dead_letter"), ("error.type", null)).Should().HaveCount(deadLetters.Count);
        metrics.Sum("messagingpatterns.dead_lettered").Should().Be(deadLetters.Count);
        metrics.Sum("messagingpatterns.lease_lost").Should().Be(0);
        settled["ack"].Should().Be(Messages - alwaysFailing);

        // Every conventional measurement names the system, the queue and the operation, in seconds for durations.
        var conventional = metrics.Of("messaging.client.sent.messages")
            .Concat(metrics.Of("messaging.client.consumed.messages"))
            .Concat(metrics.Of("messaging.client.operation.duration"))
            .Concat(metrics.Of("messaging.process.duration"));
        conventional.Should().AllSatisfy(m =>
        {
            m.Tags.Should().Contain("messaging.system", "memory").And.ContainKey("messaging.operation.name").And.ContainKey("messaging.operation.type");
            if (m.Instrument is Histogram<double>)
            {
                m.Instrument.Unit.Should().Be("s");
            }
        });
        metrics.Of("messaging.process.duration").Should().OnlyContain(m => Equals(m.Tags["messaging.operation.type"], "process"));
        metrics.Of("messaging.client.consumed.messages").Should().OnlyContain(m => Equals(m.Tags["messaging.operation.type"], "receive"));
    }

    [Fact]
    public async Task ConsumedCounter_WithAPrefetchHandedBackAndReleasedAtAStop_EqualsTheDeliveriesHandlersSaw()
    {
        const int Backlog = 40;
        var queue = $"prefetched-{Guid.NewGuid():N}"[..24];
        using var metrics = new MetricsRecorder(queue);
        await using var store = MessageStore.CreatePriority<int>(queue, new PriorityQueueOptions { Levels = 3 });
        var producer = Producer.Create<int>(store);
        await producer.PublishBatchAsync(Enumerable.Range(0, Backlog).Select(i => new Message<int>(i)).ToArray()).Within();

        // The ledger: every body the handlers saw, in order; the first and the urgent one wait for the test.
        var ledger = new ConcurrentQueue<int>();
        var started = Channel.CreateUnbounded<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstGate = new SemaphoreSlim(0);
        var urgentGate = new SemaphoreSlim(0);
        async Task Handle(MessageContext<int> context, CancellationToken cancellationToken)
        {
            ledger.Enqueue(context.Body);
            started.Writer.TryWrite(context.Body);
            if (ledger.Distinct().Count() == Backlog + 1)
            {
                all.TrySetResult();
            }

            await (context.Body switch
            {
                0 => firstGate.WaitAsync(cancellationToken),
                -1 => urgentGate.WaitAsync(cancellationToken),
                _ => Task.CompletedTask,
            });
        }

        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 16, ResiliencePipeline = ResiliencePipeline.Empty };
        await using (var first = PoolFactory.Create<int>(store, Handle, options))
        {
            await first.StartAsync(default);
            (await started.Reader.ReadAsync().AsTask().Within()).Should().Be(0);

            // 15 prefetched messages are handed back for the urgent one, then 15 more are released by the stop.
            await producer.PublishAsync(new Message<int>(-1, priority: 2)).Within();
            firstGate.Release();
            (await started.Reader.ReadAsync().AsTask().Within()).Should().Be(-1, "the worker handed its prefetch back for the urgent message");
            var stopping = first.StopAsync(default);
            urgentGate.Release();
            await stopping.Within();
        }

        ledger.Should().HaveCount(2, "the stop took the prefetched messages before their handlers started");
        await using (var second = PoolFactory.Create<int>(store, Handle, options))
        {
            await second.StartAsync(default);
            await all.Task.Within();
            await second.StopAsync(default).Within();
        }

        ledger.Should().HaveCount(Backlog + 1, "no handler failed, so each message was handled once");
        metrics.Sum("messaging.client.consumed.messages").Should().Be(ledger.Count, "a message counts when a handler gets it, not each time it is prefetched");
        metrics.Of("messaging.process.duration").Should().HaveCount(ledger.Count);
    }

    [Fact]
    public async Task ProcessDurationAndSpan_EndBeforeTheSettlement()
    {
        var queue = $"settle-{Guid.NewGuid():N}"[..20];
        using var metrics = new MetricsRecorder(queue);
        using var spans = new SpanRecorder(queue);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = new SlowAckStore<string>(MessageStore.CreateInMemory<string>(queue));
        await Producer.Create<string>(store).PublishAsync(new Message<string>("x")).Within();
        await using var pool = PoolFactory.Create<string>(
            store, (_, _) => Task.CompletedTask, new ConsumerOptions { Concurrency = 1, ResiliencePipeline = ResiliencePipeline.Empty }, time);

        await pool.StartAsync(default);
        await store.AckEntered.Task.Within();
        spans.Process.Should().ContainSingle("the handler's span ended before its message was acknowledged");
        time.Advance(TimeSpan.FromSeconds(10));
        store.AckMayFinish.SetResult();
        await store.AckFinished.Task.Within();
        await pool.StopAsync(default).Within();

        metrics.Of("messaging.process.duration").Should().ContainSingle().Which.Value.Should().Be(0, "the handler took no time; the ack's 10 s are the settlement's");
        metrics.Of("messaging.client.operation.duration", ("messaging.operation.name", "ack")).Should().ContainSingle().Which.Value.Should().Be(10);
    }

    /// <summary>A store whose acks wait for the test: the handler's measurements are made while one is pending.</summary>
    private sealed class SlowAckStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner)
    {
        public TaskCompletionSource AckEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource AckMayFinish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource AckFinished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
        {
            AckEntered.TrySetResult();
            await AckMayFinish.Task.WaitAsync(Bounded.Patience, cancellationToken);
            var acked = await base.AckAsync(lease, cancellationToken);
            AckFinished.TrySetResult();
            return acked;
        }
    }

    [Fact]
    public async Task Instruments_UnderDI_ComeFromTheContainersMeterFactory()
    {
        var leveled = $"leveled-{Guid.NewGuid():N}"[..24];
        var prioritized = $"prioritized-{Guid.NewGuid():N}"[..24];
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddInMemoryQueue<int>(leveled).WithLoadLeveling(options => options.Capacity = 10);
        services.AddInMemoryPriorityQueue<string>(prioritized);
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();

        var scopes = new ConcurrentDictionary<string, ConcurrentBag<object?>>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.destination.name" && (Equals(tag.Value, leveled) || Equals(tag.Value, prioritized)))
                {
                    scopes.GetOrAdd(instrument.Name, _ => []).Add(instrument.Meter.Scope);
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Record(instrument, tags));
        listener.SetMeasurementEventCallback<int>((instrument, _, tags, _) => Record(instrument, tags));
        listener.Start();

        await provider.GetRequiredKeyedService<IProducer<int>>(leveled).PublishAsync(new Message<int>(1)).Within();
        await provider.GetRequiredKeyedService<IProducer<string>>(prioritized).PublishAsync(new Message<string>("x")).Within();
        listener.RecordObservableInstruments();

        scopes.Keys.Should().Contain(["messaging.client.sent.messages", "messagingpatterns.load_leveling.arrived", "messagingpatterns.load_leveling.depth", "messagingpatterns.priority.waiting"]);
        scopes.Values.SelectMany(s => s).Should().OnlyContain(scope => ReferenceEquals(scope, factory), "every instrument of a DI-built queue is on the container's meter");
    }

    [Fact]
    public async Task HandledDelivery_ContinuesThePublishersTrace_AcrossARedelivery()
    {
        var queue = $"traced-{Guid.NewGuid():N}"[..20];
        using var spans = new SpanRecorder(queue);
        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>(queue));
        await using var disposeStore = store;
        var attempts = 0;
        await using var pool = PoolFactory.Create<string>(
            store,
            (_, _) => Interlocked.Increment(ref attempts) == 1 ? throw new InvalidOperationException("first delivery fails") : Task.CompletedTask,
            new ConsumerOptions { Concurrency = 1, RedeliveryDelay = TimeSpan.Zero, ResiliencePipeline = ResiliencePipeline.Empty });

        await Producer.Create<string>(store).PublishAsync(new Message<string>("x", "traced-1", priority: 3)).Within();
        await pool.StartAsync(default);
        (await store.NextSettlementAsync()).Should().Be(("release", true));
        (await store.NextSettlementAsync()).Should().Be(("ack", true));
        await pool.StopAsync(default).Within();

        spans.ShouldShowOneTraceFromPublishToHandler(queue, "memory", deliveries: 2);
        var failed = spans.Process[0];
        failed.Status.Should().Be(ActivityStatusCode.Error);
        failed.GetTagItem("error.type").Should().Be("System.InvalidOperationException");
        spans.Process[1].GetTagItem("messagingpatterns.priority").Should().Be(3);
    }
}
