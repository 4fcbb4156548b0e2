using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// A buffer's running totals for its snapshot and rates. Arrivals and processed messages are derived from the capacity
/// gate's counters, so the hot path stays at one interlocked operation per publish and per settle.
/// </summary>
internal sealed class LoadLevelingTotals(string queueName, LoadLevelingMetrics metrics)
{
    /// <summary>Totals reported on the process-wide instruments.</summary>
    public LoadLevelingTotals(string queueName)
        : this(queueName, MessagingInstruments.Shared.LoadLeveling)
    {
    }

    /// <summary>Gets the instruments the totals are also reported on.</summary>
    public LoadLevelingMetrics Metrics => metrics;

    private long _moved;
    private long _redriven;
    private long _droppedRemoved;
    private long _dropped;
    private long _rejected;
    private long _overflowed;
    private long _waitTicks;
    private long _waitCount;

    /// <summary>Gets the messages dropped by a drop full-mode.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Gets the publishes refused because the buffer was full.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Gets the messages spilled to the overflow store.</summary>
    public long Overflowed => Interlocked.Read(ref _overflowed);

    /// <summary>Counts a message moved from the overflow store into the buffer (admitted, but not an arrival).</summary>
    public void Moved() => Interlocked.Increment(ref _moved);

    /// <summary>Counts redriven messages (admitted again, but not arrivals).</summary>
    public void Redriven(int count) => Interlocked.Add(ref _redriven, count);

    /// <summary>Counts a dropped message, reported to the user.</summary>
    public void CountDropped()
    {
        Interlocked.Increment(ref _dropped);
        metrics.Dropped(queueName);
    }

    /// <summary>Counts a message removed from the buffer by a drop (released, but not processed).</summary>
    public void DroppedRemoved() => Interlocked.Increment(ref _droppedRemoved);

    /// <summary>Counts a refused publish.</summary>
    public void CountRejected()
    {
        Interlocked.Increment(ref _rejected);
        metrics.Rejected(queueName);
    }

    /// <summary>Counts messages spilled to the overflow store (arrivals too).</summary>
    public void Spilled(int count)
    {
        Interlocked.Add(ref _overflowed, count);
        metrics.Overflowed(queueName, count);
        metrics.Arrived(queueName, count);
    }

    /// <summary>
    /// When the store granted a delivery's lease: the time it stamped on the delivery, or now by
    /// <paramref name="time"/> if it left that unset.
    /// </summary>
    public static DateTimeOffset GrantedAt<TMessage>(in Delivery<TMessage> delivery, TimeProvider time) =>
        delivery.LeaseGrantedAt != default ? delivery.LeaseGrantedAt : time.GetUtcNow();

    /// <summary>Records how long first deliveries waited from acceptance until their lease was granted.</summary>
    public void Received<TMessage>(ReadOnlySpan<Delivery<TMessage>> deliveries, TimeProvider time)
    {
        long waitTicks = 0;
        var waits = 0;
        var record = metrics.IsWaitEnabled;
        foreach (var delivery in deliveries)
        {
            if (delivery.DeliveryCount == 1 && delivery.Message.EnqueuedAt != default)
            {
                // The store stamps each lease with its own clock, so receiving costs no clock read here.
                var wait = GrantedAt(delivery, time) - delivery.Message.EnqueuedAt;
                waitTicks += wait.Ticks;
                waits++;
                if (record)
                {
                    metrics.Waited(queueName, wait);
                }
            }
        }

        if (waits > 0)
        {
            Interlocked.Add(ref _waitTicks, waitTicks);
            Interlocked.Add(ref _waitCount, waits);
        }
    }

    /// <summary>
    /// Reads the totals: arrivals are admissions other than moves from overflow and redrives, plus spills; processed
    /// are releases other than drops.
    /// </summary>
    public RateSampler.Totals Read(CapacityGate gate) => new(
        gate.Admitted - Volatile.Read(ref _moved) - Volatile.Read(ref _redriven) + Volatile.Read(ref _overflowed),
        gate.Released - Volatile.Read(ref _droppedRemoved),
        Volatile.Read(ref _waitTicks),
        Volatile.Read(ref _waitCount));
}
