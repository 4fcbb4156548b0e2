using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The load-leveling buffer's instruments, on the library's meter (<see cref="MessagingMetrics.Name"/>), tagged by queue:
/// depth and overflow depth (observed from every live buffer), arrivals, processed, dropped, rejected and overflowed
/// counts, and the time messages waited before their first delivery.
/// </summary>
internal static class LoadLevelingMetrics
{
    private static readonly Meter s_meter = new(MessagingMetrics.Name);
    // Weak: a buffer its owner dropped without disposing must not live on for the process's life through its gauge.
    private static readonly ConditionalWeakTable<IDepthSource, object?> s_sources = new();
    private static readonly Counter<long> s_arrived = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.arrived", "{message}", "Messages accepted by a load-leveling buffer (or its overflow store).");
    private static readonly Counter<long> s_processed = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.processed", "{message}", "Messages acknowledged or dead-lettered through a load-leveling buffer.");
    private static readonly Counter<long> s_dropped = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.dropped", "{message}", "Messages dropped by a drop full-mode; each was reported to the OnDropped callback.");
    private static readonly Counter<long> s_rejected = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.rejected", "{message}", "Publishes refused because the buffer was full.");
    private static readonly Counter<long> s_overflowed = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.overflowed", "{message}", "Messages spilled to the overflow store.");
    private static readonly Counter<long> s_overflowDeadLettered = s_meter.CreateCounter<long>(MessagingMetrics.Prefix + "load_leveling.overflow_dead_lettered", "{message}", "Messages dead-lettered in the overflow store because the queue's store would not take them.");
    private static readonly Histogram<double> s_wait = s_meter.CreateHistogram<double>(MessagingMetrics.Prefix + "load_leveling.wait", "s", "Time from acceptance to first delivery.");

    static LoadLevelingMetrics()
    {
        s_meter.CreateObservableUpDownCounter(MessagingMetrics.Prefix + "load_leveling.depth", ObserveDepth, "{message}", "Messages held by a load-leveling buffer.");
        s_meter.CreateObservableUpDownCounter(MessagingMetrics.Prefix + "load_leveling.overflow_depth", ObserveOverflow, "{message}", "Messages waiting in the overflow store.");
    }

    /// <summary>A live buffer whose depth the gauges report.</summary>
    internal interface IDepthSource
    {
        string Name { get; }

        long Depth { get; }

        long OverflowDepth { get; }
    }

    internal static bool IsWaitEnabled => s_wait.Enabled;

    internal static void Register(IDepthSource source) => s_sources.TryAdd(source, null);

    internal static void Unregister(IDepthSource source) => s_sources.Remove(source);

    internal static void Arrived(string queue, int count) => Add(s_arrived, queue, count);

    internal static void Processed(string queue) => Add(s_processed, queue, 1);

    internal static void Dropped(string queue) => Add(s_dropped, queue, 1);

    internal static void Rejected(string queue) => Add(s_rejected, queue, 1);

    internal static void Overflowed(string queue, int count) => Add(s_overflowed, queue, count);

    internal static void OverflowDeadLettered(string queue) => Add(s_overflowDeadLettered, queue, 1);

    internal static void Waited(string queue, TimeSpan wait) =>
        s_wait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, queue));

    private static void Add(Counter<long> counter, string queue, int count)
    {
        if (counter.Enabled)
        {
            counter.Add(count, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, queue));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveDepth() =>
        s_sources.Select(static s => new Measurement<long>(s.Key.Depth, new TagList { { MessagingAttributes.DestinationName, s.Key.Name } }));

    private static IEnumerable<Measurement<long>> ObserveOverflow() =>
        s_sources.Select(static s => new Measurement<long>(s.Key.OverflowDepth, new TagList { { MessagingAttributes.DestinationName, s.Key.Name } }));
}
