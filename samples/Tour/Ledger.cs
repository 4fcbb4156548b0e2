using System.Collections.Concurrent;
using MessagingPatterns;

/// <summary>
/// What happened to one run's messages: the ids published, and for each handled one the group it was handled in (a host,
/// a service class) and how long it took from enqueue. Dead letters are read from the store, not from here.
/// </summary>
public sealed class Ledger
{
    private readonly List<string> _published = [];
    private readonly ConcurrentDictionary<string, (string Group, TimeSpan Latency)> _handled = new();
    private int _publishedCount;
    private int _retried;

    public int Published => Volatile.Read(ref _publishedCount);

    public int Handled => _handled.Count;

    public int Retried => Volatile.Read(ref _retried);

    /// <summary>Called by the single publishing loop once the store has accepted the message.</summary>
    public void RecordPublished(string id)
    {
        _published.Add(id);
        Interlocked.Increment(ref _publishedCount);
    }

    public void RecordHandled(string id, string group, TimeSpan latency) => _handled.TryAdd(id, (group, latency));

    public void RecordRetry() => Interlocked.Increment(ref _retried);

    public IReadOnlyDictionary<string, int> HandledPerGroup() =>
        _handled.Values.GroupBy(h => h.Group).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>The latency below which the given share of a group's messages were handled (nearest rank).</summary>
    public TimeSpan Percentile(string group, double share)
    {
        var sorted = _handled.Values.Where(h => h.Group == group).Select(h => h.Latency).Order().ToArray();
        return sorted.Length == 0 ? TimeSpan.Zero : sorted[Math.Max(0, (int)Math.Ceiling(share * sorted.Length) - 1)];
    }

    /// <summary>Waits until every published message is handled or in the store's dead letters; false on timeout.</summary>
    public async Task<bool> WaitUntilSettledAsync<T>(IMessageStore<T> store, TimeSpan timeout)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (Handled + (await store.GetStatisticsAsync()).DeadLettered < Published)
        {
            if (TimeProvider.System.GetElapsedTime(start) > timeout)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }

        return true;
    }

    /// <summary>Published messages neither handled nor dead-lettered; read once the run is over.</summary>
    public int CountLost(IEnumerable<string> deadLetterIds)
    {
        var deadLettered = deadLetterIds.ToHashSet();
        return _published.Count(id => !_handled.ContainsKey(id) && !deadLettered.Contains(id));
    }
}
