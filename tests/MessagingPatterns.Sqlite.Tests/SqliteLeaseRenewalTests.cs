using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>The worker pool's lease renewal over a store that commits every renewal to disk.</summary>
public sealed class SqliteLeaseRenewalTests
{
    [Fact]
    public async Task TwoHundredHeldLeases_WithATwoSecondLease_AreAllRenewedInTime()
    {
        const int held = 200;
        var queue = $"renewals-{Guid.NewGuid():N}"[..17];
        using var database = new TempDatabase();
        await using var store = SqliteMessageStore.Create<int>(queue, database.Options(SqliteSynchronousMode.Full));
        await store.EnqueueBatchAsync(Enumerable.Range(0, held).Select(i => new Message<int>(i)).ToArray());
        using var leaseLost = new LeaseLostCounter(queue);
        var started = 0;
        var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        var allHandled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new ConsumerOptions
        {
            Concurrency = held,
            LeaseDuration = TimeSpan.FromSeconds(2),
            HandlerTimeout = TimeSpan.FromMinutes(1),
            ResiliencePipeline = ResiliencePipeline.Empty,
        };
        var scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();
        var consumer = new SlowConsumer(TimeSpan.FromSeconds(6), () =>
        {
            if (Interlocked.Increment(ref started) == held)
            {
                allStarted.TrySetResult();
            }
        }, () =>
        {
            if (Interlocked.Increment(ref handled) == held)
            {
                allHandled.TrySetResult();
            }
        });
        await using var pool = new ConsumerWorkerPool<int>(store, scopes, _ => consumer, options);

        await pool.StartAsync(default);
        await allStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await allHandled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await pool.StopAsync(default).WaitAsync(TimeSpan.FromSeconds(30));

        leaseLost.Total.Should().Be(0, "every lease was renewed before it ended");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    private sealed class SlowConsumer(TimeSpan duration, Action onStarted, Action onHandled) : IConsumer<int>
    {
        public async Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            onStarted();
            await Task.Delay(duration, cancellationToken);
            onHandled();
        }
    }

    private sealed class LeaseLostCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public LeaseLostCounter(string queue)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MessagingMetrics.Name && instrument.Name == "messagingpatterns.lease_lost")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "messaging.destination.name" && tag.Value as string == queue)
                    {
                        Interlocked.Add(ref _total, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }
}
