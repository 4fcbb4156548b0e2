using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Tests.Diagnostics;

public sealed class MessagingInstrumentsTests
{
    [Fact]
    public async Task EverySecondsHistogram_AdvisesBucketsInSeconds()
    {
        // A meter of its own, so the instruments seen are exactly the ones the library creates on it.
        var services = new ServiceCollection();
        services.AddMetrics();
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();
        var published = new ConcurrentBag<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    published.Add(instrument);
                }
            },
        };
        listener.Start();

        MessagingInstruments.From(factory);

        var seconds = published.Where(i => i.Unit == "s").ToList();
        seconds.Select(i => i.Name).Should().Contain(
            ["messaging.client.operation.duration", "messaging.process.duration", "messagingpatterns.latency", "messagingpatterns.priority.wait", "messagingpatterns.load_leveling.wait"]);
        seconds.Should().AllSatisfy(instrument =>
        {
            var histogram = instrument.Should().BeOfType<Histogram<double>>().Subject;
            var buckets = histogram.Advice?.HistogramBucketBoundaries;
            buckets.Should().NotBeNull($"{instrument.Name} is in seconds: the exporters' default buckets are made for milliseconds");
            buckets![0].Should().BeLessThanOrEqualTo(0.005, $"{instrument.Name} must tell a few milliseconds from a second");
            buckets.Should().BeInAscendingOrder();
        });
    }
}
