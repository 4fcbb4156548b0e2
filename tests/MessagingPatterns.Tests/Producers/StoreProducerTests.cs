using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Tests.Producers;

public sealed class StoreProducerTests
{
    [Fact]
    public async Task PublishBatch_WithMixedPriorities_CountsEachMessageUnderItsOwnPriority()
    {
        var queue = $"mixed-{Guid.NewGuid():N}"[..20];
        var published = new ConcurrentDictionary<int, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meters) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name && instrument.Name == "messaging.published")
            {
                meters.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? tagQueue = null;
            int? priority = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.queue")
                {
                    tagQueue = tag.Value as string;
                }
                else if (tag.Key == "messaging.priority")
                {
                    priority = Convert.ToInt32(tag.Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            if (tagQueue == queue && priority is { } level)
            {
                published.AddOrUpdate(level, value, (_, sum) => sum + value);
            }
        });
        listener.Start();

        await using var store = MessageStore.CreateInMemory<int>(queue);
        var producer = Producer.Create(store);
        await producer.PublishBatchAsync([new(1, priority: 0), new(2, priority: 2), new(3, priority: 2), new(4, priority: 0)]);

        published.Should().BeEquivalentTo(new Dictionary<int, long> { [0] = 2, [2] = 2 });
    }
}
