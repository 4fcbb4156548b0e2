using MessagingPatterns.Consumers;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Consumers;

public sealed class WorkerLoopTests
{
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ListLogger<WorkerLoopTests> _logger = new();

    [Fact]
    public async Task Deliveries_AreHandledAndAcknowledgedInOrder()
    {
        await using var store = MessageStore.CreateInMemory<int>("loop-order", timeProvider: _time);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(i => new Message<int>(i)).ToArray());
        var handled = new List<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var (loop, worker) = Build(store, new ConsumerOptions { PrefetchCount = 2, LeaseDuration = s_lease }, context =>
        {
            handled.Add(context.Body);
            if (handled.Count == 5)
            {
                all.TrySetResult();
            }

            return Task.CompletedTask;
        });

        var running = loop.RunAsync(worker, stopping.Token);
        await all.Task.Within();
        await stopping.CancelAsync();
        await running.Within();

        handled.Should().Equal(0, 1, 2, 3, 4);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task DeliveryOverTheAttemptsAllowed_IsDeadLetteredWithoutRunningItsHandler()
    {
        await using var store = MessageStore.CreateInMemory<int>("loop-over", timeProvider: _time);
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]);
        var first = new Delivery<int>[1];
        await store.ReceiveAsync(first, s_lease).Within();
        await store.ReleaseAsync(first[0].Lease).Within(); // a delivery never settled: its consumer stopped
        var handled = new List<int>();
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var (loop, worker) = Build(store, new ConsumerOptions { MaxDeliveryAttempts = 1, LeaseDuration = s_lease }, context =>
        {
            handled.Add(context.Body);
            second.TrySetResult();
            return Task.CompletedTask;
        });

        var running = loop.RunAsync(worker, stopping.Token);
        await second.Task.Within();
        await stopping.CancelAsync();
        await running.Within();

        handled.Should().Equal([2], "message 1 came back over its one allowed attempt");
        (await store.GetDeadLettersAsync(1)).Single().Message!.Body.Should().Be(1);
    }

    [Fact]
    public async Task Stop_ReleasesPrefetchedUnstartedDeliveriesAtOnce_AndLetsTheRunningOneFinish()
    {
        await using var store = MessageStore.CreateInMemory<int>("loop-stop", timeProvider: _time);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 3).Select(i => new Message<int>(i)).ToArray());
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var (loop, worker) = Build(store, new ConsumerOptions { PrefetchCount = 3, LeaseDuration = s_lease }, async _ =>
        {
            started.TrySetResult();
            await finish.Task;
        });

        var running = loop.RunAsync(worker, stopping.Token);
        await started.Task.Within();
        await stopping.CancelAsync();
        finish.SetResult();
        await running.Within();

        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(2, 0, 0, 0), "the started one was acked and the two prefetched went back");
    }

    [Fact]
    public async Task DisposedStore_EndsTheLoop_AndRecordsWhyForThePoolToLog()
    {
        var store = MessageStore.CreateInMemory<int>("loop-disposed", timeProvider: _time);
        var (loop, worker) = Build(store, new ConsumerOptions { LeaseDuration = s_lease }, _ => Task.CompletedTask);

        var running = loop.RunAsync(worker, CancellationToken.None);
        await store.DisposeAsync();
        await running.Within();

        // The pool logs it once the worker has ended (StoreDisposedLogTests).
        worker.StoreDisposed.Should().NotBeNull();
    }

    private (WorkerLoop<int> Loop, ConsumerWorker<int> Worker) Build(IMessageStore<int> store, ConsumerOptions options, Func<MessageContext<int>, Task> handle)
    {
        var consumer = new DelegateConsumer<int>((context, _) => handle(context));
        var attempts = new AttemptRunner<int>(PoolFactory.Scopes, ScopeFreeServices.None, _ => consumer, options, _time, _logger, store.Name, CancellationToken.None);
        var telemetry = QueueTelemetry.For(store, time: _time);
        var settler = new DeliverySettler<int>(store, options, _logger, telemetry, CancellationToken.None);
        var loop = new WorkerLoop<int>(store, options.LeaseDuration, attempts, settler, null, _time, _logger, telemetry);
        return (loop, new ConsumerWorker<int>(attempts, options.PrefetchCount, store.Name));
    }
}
