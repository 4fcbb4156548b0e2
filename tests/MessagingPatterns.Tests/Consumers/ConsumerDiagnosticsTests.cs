using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.Consumers;

public sealed class ConsumerDiagnosticsTests
{
    [Fact]
    public async Task HandledDelivery_IsTracedAndCounted_UnderTheLibrarysName()
    {
        var queue = $"traced-{Guid.NewGuid():N}"[..20];
        var activities = new ConcurrentQueue<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MessagingMetrics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("messaging.destination.name") as string == queue)
                {
                    activities.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(activityListener);

        var consumed = 0L;
        using var meterListener = new MeterListener();
        meterListener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name && instrument.Name == "messaging.consumed")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meterListener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.queue" && tag.Value as string == queue)
                {
                    Interlocked.Add(ref consumed, value);
                }
            }
        });
        meterListener.Start();

        var store = new SettlementProbe<string>(MessageStore.CreateInMemory<string>(queue));
        await using var disposeStore = store;
        await using var pool = PoolFactory.Create<string>(store, (_, _) => Task.CompletedTask, new ConsumerOptions { Concurrency = 1 });
        await store.EnqueueAsync(new Message<string>("x", "traced-1", priority: 3));
        await pool.StartAsync(default);
        (await store.NextSettlementAsync()).Should().Be(("ack", true));
        await pool.StopAsync(default).Within();

        var activity = activities.Should().ContainSingle().Subject;
        activity.OperationName.Should().Be($"consume {queue}");
        activity.Kind.Should().Be(ActivityKind.Consumer);
        activity.GetTagItem("messaging.message.id").Should().Be("traced-1");
        activity.GetTagItem("messaging.priority").Should().Be(3);
        Interlocked.Read(ref consumed).Should().Be(1);
    }
}
