using System.Diagnostics;
using System.Diagnostics.Metrics;
using MessagingPatterns.Priority;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The priority stores' instruments, on the library's meter: waiting messages per level (a gauge),
/// enqueue-to-start latency per level (a histogram) and deadline-target breaches per level (a counter).
/// </summary>
internal static class PriorityMetrics
{
    private static readonly Meter s_meter = new(MessagingMetrics.Name);
    private static readonly Histogram<double> s_wait = s_meter.CreateHistogram<double>(
        MessagingMetrics.Prefix + "priority.wait", "s", "Time from enqueue to the first lease (start) of a message, per priority level.");
    private static readonly Counter<long> s_breaches = s_meter.CreateCounter<long>(
        MessagingMetrics.Prefix + "priority.target_breaches", "{message}", "Messages started later than their level's latency target.");
    private static readonly Lock s_lock = new();
    private static readonly List<WeakReference<IPriorityGaugeSource>> s_stores = [];

    // Kept in a field so the gauge lives as long as the meter.
    private static readonly ObservableGauge<int> s_waiting = s_meter.CreateObservableGauge(
        MessagingMetrics.Prefix + "priority.waiting", ObserveWaiting, "{message}", "Ready messages waiting per priority level.");

    /// <summary>Tracks a store for the waiting gauge, weakly, so an abandoned store is not kept alive.</summary>
    public static void Register(IPriorityGaugeSource store)
    {
        lock (s_lock)
        {
            // Pruning on registration keeps the list bounded by the live stores even if nobody listens.
            if (s_stores.Count >= 16 && (s_stores.Count & (s_stores.Count - 1)) == 0)
            {
                s_stores.RemoveAll(static r => !r.TryGetTarget(out var s) || s.IsDisposed);
            }

            s_stores.Add(new WeakReference<IPriorityGaugeSource>(store));
        }
    }

    /// <summary>Whether anything listens to the per-start instruments, so stores can skip computing their inputs.</summary>
    public static bool ObservesStarts => s_wait.Enabled || s_breaches.Enabled;

    public static void Started(string queue, int level, long waitTicks)
    {
        if (s_wait.Enabled)
        {
            s_wait.Record(TimeSpan.FromTicks(Math.Max(0, waitTicks)).TotalSeconds, Tags(queue, level));
        }
    }

    public static void TargetBreached(string queue, int level)
    {
        if (s_breaches.Enabled)
        {
            s_breaches.Add(1, Tags(queue, level));
        }
    }

    private static List<Measurement<int>> ObserveWaiting()
    {
        var measurements = new List<Measurement<int>>();
        lock (s_lock)
        {
            s_stores.RemoveAll(static r => !r.TryGetTarget(out var s) || s.IsDisposed);
            foreach (var reference in s_stores)
            {
                if (reference.TryGetTarget(out var store))
                {
                    for (var level = 0; level < store.Levels; level++)
                    {
                        measurements.Add(new Measurement<int>(store.WaitingAt(level), Tags(store.Name, level)));
                    }
                }
            }
        }

        return measurements;
    }

    private static TagList Tags(string queue, int level) =>
        new() { { MessagingAttributes.DestinationName, queue }, { MessagingAttributes.Priority, level } };
}
