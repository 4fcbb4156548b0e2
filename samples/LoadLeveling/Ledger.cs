using System.Collections.Concurrent;

/// <summary>Which events were published and which were handled, so the summary can account for every one.</summary>
public sealed class Ledger
{
    private readonly List<string> _published = [];
    private readonly ConcurrentDictionary<string, bool> _handled = new();
    private int _publishedCount;
    private int _deadLettered;

    public int Published => Volatile.Read(ref _publishedCount);

    public int Handled => _handled.Count;

    /// <summary>The published ids; read only once publishing has finished.</summary>
    public IReadOnlyList<string> PublishedIds => _published;

    /// <summary>Called by the single publishing loop once the store has accepted the event.</summary>
    public void RecordPublished(string id)
    {
        _published.Add(id);
        Interlocked.Increment(ref _publishedCount);
    }

    public void RecordHandled(string id) => _handled.TryAdd(id, true);

    public void RecordDeadLettered() => Interlocked.Increment(ref _deadLettered);

    public bool WasHandled(string id) => _handled.ContainsKey(id);

    /// <summary>Waits until every published event is handled or dead-lettered; false if that takes longer than the timeout.</summary>
    public async Task<bool> WaitUntilSettledAsync(TimeSpan timeout)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (Handled + Volatile.Read(ref _deadLettered) < Published)
        {
            if (TimeProvider.System.GetElapsedTime(start) > timeout)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }

        return true;
    }
}
