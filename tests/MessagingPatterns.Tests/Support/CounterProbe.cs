using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Tests.Support;

/// <summary>Sums one of the library's counters for one queue, as an operator's dashboard would.</summary>
public sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public CounterProbe(string instrument, string queue)
    {
        _listener.InstrumentPublished = (published, listener) =>
        {
            if (published.Meter.Name == MessagingMetrics.Name && published.Name == instrument)
            {
                listener.EnableMeasurementEvents(published);
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
