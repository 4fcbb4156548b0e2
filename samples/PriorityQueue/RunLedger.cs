using System.Collections.Concurrent;

/// <summary>What happened to the messages of one run: which were published and handled, and how long each class waited.</summary>
public sealed class RunLedger
{
    private readonly List<string> _published = [];
    private readonly ConcurrentDictionary<string, bool> _handled = new();
    private readonly ConcurrentQueue<TimeSpan>[] _latencies = [new(), new(), new()];
    private int _publishedCount;
    private int _deadLettered;

    public int Published => Volatile.Read(ref _publishedCount);

    public int Handled => _handled.Count;

    /// <summary>Handled or dead-lettered: nothing more will happen to these.</summary>
    public int Settled => _handled.Count + Volatile.Read(ref _deadLettered);

    /// <summary>The published ids; read only once publishing has finished.</summary>
    public IReadOnlyList<string> PublishedIds => _published;

    /// <summary>Called by the single publishing loop once the store has accepted the message.</summary>
    public void RecordPublished(string id)
    {
        _published.Add(id);
        Interlocked.Increment(ref _publishedCount);
    }

    public void RecordHandled(string id, ServiceClass serviceClass, TimeSpan latency)
    {
        _handled.TryAdd(id, true);
        _latencies[(int)serviceClass].Enqueue(latency);
    }

    public void RecordDeadLettered() => Interlocked.Increment(ref _deadLettered);

    public bool WasHandled(string id) => _handled.ContainsKey(id);

    public Percentiles LatencyOf(ServiceClass serviceClass) => Percentiles.Of(_latencies[(int)serviceClass]);
}

/// <summary>p50, p95 and p99 of a set of latencies (nearest rank).</summary>
public sealed record Percentiles(int Count, TimeSpan P50, TimeSpan P95, TimeSpan P99)
{
    public static Percentiles Of(IEnumerable<TimeSpan> latencies)
    {
        var sorted = latencies.Order().ToArray();
        return sorted.Length == 0
            ? new Percentiles(0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero)
            : new Percentiles(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.95), Rank(sorted, 0.99));
    }

    private static TimeSpan Rank(TimeSpan[] sorted, double percentile) =>
        sorted[Math.Max(0, (int)Math.Ceiling(percentile * sorted.Length) - 1)];
}
