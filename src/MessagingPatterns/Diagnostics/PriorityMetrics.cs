using System.Diagnostics;
using System.Diagnostics.Metrics;
using MessagingPatterns.Priority;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The priority stores' instruments, on the library's meter: waiting messages per level (a gauge),
/// enqueue-to-start latency per level (a histogram) and deadline-target breaches per level (a counter).
/// </summary>
internal sealed class PriorityMetrics
{
    private readonly Histogram<double> _wait;
    private readonly Counter<long> _breaches;
    private readonly Lock _lock = new();
    private readonly List<WeakReference<IPriorityGaugeSource>> _stores = [];

    public PriorityMetrics(Meter meter)
    {
        _wait = meter.CreateHistogram<double>(
            MessagingMetrics.Prefix + "priority.wait", "s", "Time from enqueue to the first lease (start) of a message, per priority level.", advice: MessagingInstruments.WaitAdvice);
        _breaches = meter.CreateCounter<long>(
            MessagingMetrics.Prefix + "priority.target_breaches", "{message}", "Messages started later than their level's latency target.");
        meter.CreateObservableGauge(
            MessagingMetrics.Prefix + "priority.waiting", ObserveWaiting, "{message}", "Ready messages waiting per priority level.");
    }

    /// <summary>Tracks a store for the waiting gauge, weakly, so an abandoned store is not kept alive.</summary>
    public void Register(IPriorityGaugeSource store)
    {
        lock (_lock)
        {
            // Pruning on registration keeps the list bounded by the live stores even if nobody listens.
            if (_stores.Count >= 16 && (_stores.Count & (_stores.Count - 1)) == 0)
            {
                _stores.RemoveAll(static r => !r.TryGetTarget(out var s) || s.IsDisposed);
            }

            _stores.Add(new WeakReference<IPriorityGaugeSource>(store));
        }
    }

    /// <summary>Whether anything listens to the per-start instruments, so stores can skip computing their inputs.</summary>
    public bool ObservesStarts => _wait.Enabled || _breaches.Enabled;

    public void Started(string queue, int level, long waitTicks)
    {
        if (_wait.Enabled)
        {
            _wait.Record(TimeSpan.FromTicks(Math.Max(0, waitTicks)).TotalSeconds, Tags(queue, level));
        }
    }

    public void TargetBreached(string queue, int level)
    {
        if (_breaches.Enabled)
        {
            _breaches.Add(1, Tags(queue, level));
        }
    }

    private List<Measurement<int>> ObserveWaiting()
    {
        var measurements = new List<Measurement<int>>();
        lock (_lock)
        {
            _stores.RemoveAll(static r => !r.TryGetTarget(out var s) || s.IsDisposed);
            foreach (var reference in _stores)
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
