using MessagingPatterns.Consumers;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Consumers;

public sealed class AttemptRunnerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task EveryAttempt_GetsAFreshScopeAndConsumer()
    {
        var services = new ServiceCollection();
        services.AddScoped<ScopedCounter>();
        await using var provider = services.BuildServiceProvider();
        var seen = new List<int>();
        var consumers = new HashSet<IConsumer<int>>();
        var runner = Runner(
            provider.GetRequiredService<IServiceScopeFactory>(),
            scope =>
            {
                var consumer = new DelegateConsumer<int>((context, _) =>
                {
                    seen.Add(++context.Services.GetRequiredService<ScopedCounter>().Value);
                    return seen.Count < 3 ? Task.FromException(new InvalidOperationException("dirty")) : Task.CompletedTask;
                });
                consumers.Add(consumer);
                return consumer;
            },
            new ConsumerOptions { RetryCount = 2, RetryBaseDelay = TimeSpan.Zero });

        await runner.RunAsync(await WorkerAsync(runner)).Within();

        seen.Should().Equal([1, 1, 1], "a retry never sees the failed attempt's scoped state");
        consumers.Should().HaveCount(3);
    }

    [Fact]
    public async Task Failure_OnEveryAttempt_IsThrownAfterTheRetries()
    {
        var attempts = 0;
        var runner = Runner(PoolFactory.Scopes, _ => new DelegateConsumer<int>((_, _) =>
        {
            attempts++;
            throw new InvalidOperationException("always");
        }), new ConsumerOptions { RetryCount = 2, RetryBaseDelay = TimeSpan.Zero });

        var run = async () => await runner.RunAsync(await WorkerAsync(runner)).Within();

        await run.Should().ThrowAsync<InvalidOperationException>().WithMessage("always");
        attempts.Should().Be(3);
    }

    [Fact]
    public async Task Handler_ReturningNormallyAfterItsTimeout_FailsWithTimeoutException()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var timeout = TimeSpan.FromSeconds(5);
        var runner = Runner(PoolFactory.Scopes, _ => new DelegateConsumer<int>(async (_, _) =>
        {
            started.TrySetResult();
            await release.Task; // ignores its token, then returns normally
        }), new ConsumerOptions { RetryCount = 0, HandlerTimeout = timeout });
        var worker = await WorkerAsync(runner);

        var running = runner.RunAsync(worker).AsTask();
        await started.Task.Within();
        _time.Advance(timeout);
        worker.Guard.CancelIfOverdue(_time, _time.GetTimestamp(), timeout);
        release.SetResult();

        await running.Awaiting(r => r.Within()).Should().ThrowAsync<TimeoutException>("acknowledging a handler that may have stopped half way could lose its work");
    }

    [Fact]
    public async Task ScopedServiceFailingOnDisposal_FailsTheAttempt()
    {
        var services = new ServiceCollection();
        services.AddScoped<FailingUnitOfWork>();
        await using var provider = services.BuildServiceProvider();
        var runner = Runner(
            provider.GetRequiredService<IServiceScopeFactory>(),
            _ => new DelegateConsumer<int>((context, _) =>
            {
                context.Services.GetRequiredService<FailingUnitOfWork>();
                return Task.CompletedTask;
            }),
            new ConsumerOptions { RetryCount = 0 });

        var run = async () => await runner.RunAsync(await WorkerAsync(runner)).Within();

        await run.Should().ThrowAsync<InvalidOperationException>().WithMessage("commit failed");
    }

    private AttemptRunner<int> Runner(IServiceScopeFactory scopes, Func<IServiceProvider, IConsumer<int>> consumers, ConsumerOptions options) =>
        new(scopes, ScopeFreeServices.None, consumers, options, _time, NullLogger.Instance, "attempts", CancellationToken.None);

    private static async Task<ConsumerWorker<int>> WorkerAsync(AttemptRunner<int> runner)
    {
        await using var store = MessageStore.CreateInMemory<int>("attempts");
        await store.EnqueueAsync(new Message<int>(1));
        var worker = new ConsumerWorker<int>(runner, 1, store.Name);
        (await store.ReceiveAsync(worker.Buffer, TimeSpan.FromMinutes(1)).Within()).Should().Be(1);
        worker.Context.Reset(worker.Buffer[0]);
        return worker;
    }

    private sealed class ScopedCounter
    {
        public int Value { get; set; }
    }

    private sealed class FailingUnitOfWork : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.FromException(new InvalidOperationException("commit failed"));
    }
}
