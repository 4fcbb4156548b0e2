using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.HealthChecks.Tests;

public sealed class QueueHealthCheckTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Queue_GoesFromHealthy_ToDegradedByDepthAndAge_ToUnhealthyWhenItsConsumersStop()
    {
        var gate = new Gate();
        using var host = Build(services =>
        {
            services.AddSingleton(gate);
            services.AddInMemoryQueue<int>("orders").AddConsumer<GatedConsumer>(options =>
            {
                options.Concurrency = 1;

                // Long enough that the clock moved by the test neither ends the lease nor the handler's time.
                options.LeaseDuration = TimeSpan.FromHours(1);
                options.HandlerTimeout = TimeSpan.FromMinutes(30);
            });
            services.AddHealthChecks().AddMessagingHealthChecks(options =>
            {
                options.ReadyThreshold = 2;
                options.OldestReadyAgeThreshold = TimeSpan.FromMinutes(1);
            });
        });
        await host.StartAsync().WaitAsync(s_timeout);

        var report = await CheckAsync(host);
        report.Entries.Should().ContainKey("messaging:orders");
        report.Entries["messaging:orders"].Status.Should().Be(HealthStatus.Healthy);

        // The one worker holds the first message; the next two wait: 2 ready is within the threshold.
        var producer = host.Services.GetRequiredKeyedService<IProducer<int>>("orders");
        await producer.PublishAsync(1).AsTask().WaitAsync(s_timeout);
        await gate.Entered.Task.WaitAsync(s_timeout);
        await producer.PublishAsync(2).AsTask().WaitAsync(s_timeout);
        await producer.PublishAsync(3).AsTask().WaitAsync(s_timeout);
        (await CheckAsync(host)).Entries["messaging:orders"].Status.Should().Be(HealthStatus.Healthy);

        await producer.PublishAsync(4).AsTask().WaitAsync(s_timeout);
        var deep = (await CheckAsync(host)).Entries["messaging:orders"];
        deep.Status.Should().Be(HealthStatus.Degraded);
        deep.Description.Should().Contain("3 messages are ready, more than 2");
        deep.Data["ready"].Should().Be(3L);

        _time.Advance(TimeSpan.FromMinutes(2));
        var old = (await CheckAsync(host)).Entries["messaging:orders"];
        old.Status.Should().Be(HealthStatus.Degraded);
        old.Description.Should().Contain("oldest ready message has waited 00:02:00");
        old.Data["oldestReadyAgeSeconds"].Should().Be(120.0);

        gate.Open();
        await host.StopAsync().WaitAsync(s_timeout);
        var stopped = (await CheckAsync(host)).Entries["messaging:orders"];
        stopped.Status.Should().Be(HealthStatus.Unhealthy);
        stopped.Description.Should().Contain("a consumer pool has stopped");
        stopped.Data["consumerPools"].Should().Be("Stopped");
    }

    [Fact]
    public async Task Queue_WhoseStoreDoesNotAnswerInTime_IsUnhealthy()
    {
        var storeTimeout = TimeSpan.FromSeconds(5);
        var time = new TimerSignallingTimeProvider(_time.GetUtcNow(), storeTimeout);
        var answer = new TaskCompletionSource<StoreStatistics>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = Build(
            services =>
            {
                services.AddInMemoryQueue<int>("slow").DecorateStore((_, store) => new UnansweringStore<int>(store, answer.Task));
                services.AddHealthChecks().AddMessagingHealthChecks(options => options.StoreTimeout = storeTimeout);
            },
            time);
        await host.StartAsync().WaitAsync(s_timeout);

        // The store never answers; the check's timer runs on the fake clock, which moves only once that timer exists.
        var checking = CheckAsync(host);
        await time.TimerCreated.Task.WaitAsync(s_timeout);
        time.Advance(storeTimeout - TimeSpan.FromTicks(1));
        checking.IsCompleted.Should().BeFalse("the store has not answered and its 5 s are not up");
        time.Advance(TimeSpan.FromTicks(1));

        var entry = (await checking.WaitAsync(s_timeout)).Entries["messaging:slow"];
        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Be("Queue 'slow': its store did not answer within 00:00:05.");
        answer.SetResult(default);
        await host.StopAsync().WaitAsync(s_timeout);
    }

    [Fact]
    public async Task Queue_OnAPostgreSqlServerThatIsNotThere_IsUnhealthy_NamingNoSecret()
    {
        using var host = Build(services =>
        {
            // Nothing listens on port 1: the connection is refused at once.
            services.AddPostgreSqlQueue<int>("remote", options =>
                options.ConnectionString = "Host=127.0.0.1;Port=1;Username=app;Password=s3cret;Database=none;Timeout=5");
            services.AddHealthChecks().AddMessagingHealthChecks();
        });
        await host.StartAsync().WaitAsync(s_timeout);

        var entry = (await CheckAsync(host)).Entries["messaging:remote"];
        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().StartWith("Queue 'remote': its store failed (").And.NotContain("s3cret");
        entry.Exception.Should().NotBeNull();
        await host.StopAsync().WaitAsync(s_timeout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Queue_WhoseStoreFails_LogsAndReportsTheExceptionThroughTheRedactHook(bool redact)
    {
        const string Secret = "alice@example.com";
        var log = new CapturingLog();
        var failure = Task.FromException<StoreStatistics>(new InvalidOperationException($"no statistics for {Secret}"));
        using var host = Build(services =>
        {
            services.AddSingleton<ILoggerProvider>(log);
            services.AddInMemoryQueue<int>("failing").DecorateStore((_, store) => new UnansweringStore<int>(store, failure));
            services.AddHealthChecks().AddMessagingHealthChecks(options =>
            {
                if (redact)
                {
                    options.Redact = text => text.Replace(Secret, "[email]", StringComparison.Ordinal);
                }
            });
        });
        await host.StartAsync().WaitAsync(s_timeout);

        var entry = (await CheckAsync(host)).Entries["messaging:failing"];

        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Be("Queue 'failing': its store failed (InvalidOperationException).");
        var logged = log.Lines.Should().ContainSingle(line => line.Contains("failed the health check", StringComparison.Ordinal)).Subject;
        if (redact)
        {
            entry.Exception!.Message.Should().Be("no statistics for [email]");
            entry.Exception.ToString().Should().Contain(nameof(InvalidOperationException)).And.NotContain(Secret);
            logged.Should().Contain("no statistics for [email]").And.NotContain(Secret);
        }
        else
        {
            entry.Exception.Should().BeSameAs(failure.Exception!.InnerException, "without a hook the exception is kept as it was");
            logged.Should().Contain(Secret);
        }

        await host.StopAsync().WaitAsync(s_timeout);
    }

    [Fact]
    public async Task Queue_WhoseStoreWasDisposedUnderItsConsumers_IsUnhealthy_PoolFaulted()
    {
        var store = MessageStore.CreateInMemory<int>("orphaned", timeProvider: _time);
        var workerStopped = new LogSignal("stopped: its store was disposed");
        using var host = Build(services =>
        {
            services.AddSingleton<ILoggerProvider>(workerStopped);
            services.AddSingleton(new Gate());
            services.AddMessageQueue(store).AddConsumer<GatedConsumer>(options => options.Concurrency = 1);
            services.AddHealthChecks().AddMessagingHealthChecks();
        });
        await host.StartAsync().WaitAsync(s_timeout);
        (await CheckAsync(host)).Entries["messaging:orphaned"].Status.Should().Be(HealthStatus.Healthy);

        await store.DisposeAsync();

        // The worker notices on its own thread and ends; the pool logs the line once the worker's task has completed,
        // so by then the pool reads as faulted.
        await workerStopped.Logged.Task.WaitAsync(s_timeout);
        var entry = (await CheckAsync(host)).Entries["messaging:orphaned"];

        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Contain("a consumer pool has faulted");
        await host.StopAsync().WaitAsync(s_timeout);
    }

    [Fact]
    public async Task EveryQueue_GetsOneCheck_EvenWhenRegisteredAfterTheCall_AndCallingTwiceAddsNoSecondSet()
    {
        using var host = Build(services =>
        {
            services.AddInMemoryQueue<int>("first");
            services.AddHealthChecks().AddMessagingHealthChecks().AddMessagingHealthChecks();
            services.AddInMemoryPriorityQueue<string>("second");
        });
        await host.StartAsync().WaitAsync(s_timeout);

        var report = await CheckAsync(host);
        report.Entries.Keys.Should().BeEquivalentTo("messaging:first", "messaging:second");
        report.Status.Should().Be(HealthStatus.Healthy, "queues without consumers are judged by their stores alone");
        await host.StopAsync().WaitAsync(s_timeout);
    }

    [Theory]
    [InlineData(nameof(MessagingHealthCheckOptions.ReadyThreshold))]
    [InlineData(nameof(MessagingHealthCheckOptions.OldestReadyAgeThreshold))]
    [InlineData(nameof(MessagingHealthCheckOptions.StoreTimeout))]
    public async Task InvalidOption_FailsTheHostsStart_NamingTheOption(string option)
    {
        using var host = Build(services =>
        {
            services.AddInMemoryQueue<int>("orders");
            services.AddHealthChecks().AddMessagingHealthChecks(options =>
            {
                switch (option)
                {
                    case nameof(MessagingHealthCheckOptions.ReadyThreshold): options.ReadyThreshold = -1; break;
                    case nameof(MessagingHealthCheckOptions.OldestReadyAgeThreshold): options.OldestReadyAgeThreshold = TimeSpan.Zero; break;
                    default: options.StoreTimeout = TimeSpan.FromSeconds(-1); break;
                }
            });
        });

        var start = () => host.StartAsync().WaitAsync(s_timeout);

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain(option);
    }

    private IHost Build(Action<IServiceCollection> configure, TimeProvider? time = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<TimeProvider>(time ?? _time);
        configure(builder.Services);
        return builder.Build();
    }

    private static Task<HealthReport> CheckAsync(IHost host) =>
        host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(s_timeout);

    /// <summary>Lets the test hold a handler until it opens the gate.</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Opened => _open.Task;

        public void Open() => _open.TrySetResult();
    }

    private sealed class GatedConsumer(Gate gate) : IConsumer<int>
    {
        public async Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            gate.Entered.TrySetResult();
            await gate.Opened.WaitAsync(cancellationToken);
        }
    }
}
