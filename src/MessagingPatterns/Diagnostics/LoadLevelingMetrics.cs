using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The load-leveling buffer's instruments, on the library's meter (<see cref="MessagingMetrics.Name"/>), tagged by queue:
/// depth and overflow depth (observed from every live buffer), arrivals, processed, dropped, rejected and overflowed
/// counts, and the time messages waited before their first delivery.
/// </summary>
internal sealed class LoadLevelingMetrics
{
    // Weak: a buffer its owner dropped without disposing must not live on for the process's life through its gauge.
    private readonly ConditionalWeakTable<IDepthSource, object?> _sources = new();
    private readonly Counter<long> _arrived;
    private readonly Counter<long> _processed;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _overflowed;
    private readonly Counter<long> _overflowDeadLettered;
    private readonly Histogram<double> _wait;

    public LoadLevelingMetrics(Meter meter)
    {
        _arrived = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.arrived", "{message}", "Messages accepted by a load-leveling buffer (or its overflow store).");
        _processed = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.processed", "{message}", "Messages acknowledged or dead-lettered through a load-leveling buffer.");
        _dropped = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.dropped", "{message}", "Messages dropped by a drop full-mode; each was reported to the OnDropped callback.");
        _rejected = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.rejected", "{message}", "Publishes refused because the buffer was full.");
        _overflowed = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.overflowed", "{message}", "Messages spilled to the overflow store.");
        _overflowDeadLettered = meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.overflow_dead_lettered", "{message}", "Messages dead-lettered in the overflow store because the queue's store would not take them.");
        _wait = meter.CreateHistogram<double>(MessagingMetrics.Prefix + "load_leveling.wait", "s", "Time from acceptance to first delivery.", advice: MessagingInstruments.WaitAdvice);
        meter.CreateObservableUpDownCounter(MessagingMetrics.Prefix + "load_leveling.depth", ObserveDepth, "{message}", "Messages held by a load-leveling buffer.");
        meter.CreateObservableUpDownCounter(MessagingMetrics.Prefix + "load_leveling.overflow_depth", ObserveOverflow, "{message}", "Messages waiting in the overflow store.");
    }

    /// <summary>A live buffer whose depth the gauges report.</summary>
    internal interface IDepthSource
    {
        string Name { get; }

        long Depth { get; }

        long OverflowDepth { get; }
    }

    internal bool IsWaitEnabled => _wait.Enabled;

    internal void Register(IDepthSource source) => _sources.TryAdd(source, null);

    internal void Unregister(IDepthSource source) => _sources.Remove(source);

    internal void Arrived(string queue, int count) => Add(_arrived, queue, count);

    internal void Processed(string queue) => Add(_processed, queue, 1);

    internal void Dropped(string queue) => Add(_dropped, queue, 1);

    internal void Rejected(string queue) => Add(_rejected, queue, 1);

    internal void Overflowed(string queue, int count) => Add(_overflowed, queue, count);

    internal void OverflowDeadLettered(string queue) => Add(_overflowDeadLettered, queue, 1);

    internal void Waited(string queue, TimeSpan wait) =>
        _wait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, queue));

    private static void Add(Counter<long> counter, string queue, int count)
    {
        if (counter.Enabled)
        {
            counter.Add(count, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, queue));
        }
    }

    private IEnumerable<Measurement<long>> ObserveDepth() =>
        _sources.Select(static s => new Measurement<long>(s.Key.Depth, new TagList { { MessagingAttributes.DestinationName, s.Key.Name } }));

    private IEnumerable<Measurement<long>> ObserveOverflow() =>
        _sources.Select(static s => new Measurement<long>(s.Key.OverflowDepth, new TagList { { MessagingAttributes.DestinationName, s.Key.Name } }));
}
