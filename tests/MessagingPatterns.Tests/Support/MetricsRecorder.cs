using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Tests.Support;

/// <summary>Records every measurement the library's meters make for one queue, with its attributes, as an exporter would see them.</summary>
public sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Recorded> _recorded = new();

    public MetricsRecorder(string queue)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(queue, instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(queue, instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(queue, instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> whose attributes include every one of <paramref name="attributes"/> (a <see langword="null"/> value: the attribute is absent).</summary>
    public IReadOnlyList<Recorded> Of(string instrument, params (string Key, object? Value)[] attributes) =>
        _recorded.Where(r => r.Instrument.Name == instrument && attributes.All(a => Equals(r.Tags.GetValueOrDefault(a.Key), a.Value))).ToList();

    /// <summary>The sum of a counter's measurements with the given attributes.</summary>
    public long Sum(string instrument, params (string Key, object? Value)[] attributes) =>
        (long)Of(instrument, attributes).Sum(r => r.Value);

    public void Dispose() => _listener.Dispose();

    private void Record(string queue, Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        if (copy.GetValueOrDefault("messaging.destination.name") as string == queue)
        {
            _recorded.Enqueue(new Recorded(instrument, value, copy));
        }
    }

    public sealed record Recorded(Instrument Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);
}
