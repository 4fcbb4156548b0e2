using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Counts what a durable store holds, so that a buffer over it sees what its own counters cannot: messages from an
/// earlier run and other processes' publishes count against the capacity, and other processes' acks free room. It
/// counts at start, and then every <see cref="LoadLevelingDefaults.StoreCountInterval"/> while the buffer says a count
/// is due; a failed count is tried again at the next tick, and the last one stands meanwhile.
/// </summary>
/// <remarks>
/// The store is counted at one moment and the buffer's counters at others, while its own publishes and settles go on;
/// the count must never make the depth miss one of them, or the buffer would overfill. Messages the store holds that
/// the buffer does not count are <c>held − stored + released</c>, where stored counts publishes that had returned
/// before the store was asked (so the count includes them) and released counts settles after it answered (so the count
/// may still include them); settles under way then are added as if the count still held them. A publish or settle
/// that crosses the count is thus counted once or twice, never missed: the depth may err toward full, by the operations
/// in flight, until the next count. This needs a store whose statistics include every publish that returned before
/// they were asked for, as a store's own statistics do.
/// </remarks>
/// <typeparam name="TMessage">The message body type.</typeparam>
internal sealed class DurableDepthCounter<TMessage> : IAsyncDisposable
{
    private readonly IMessageStore<TMessage> _store;
    private readonly IDepthCountTarget _target;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _timer;
    private readonly ILogger _logger;
    private long _stored;
    private long _settling;
    private int _counting;
    private volatile bool _firstCountPending = true;
    private volatile bool _countFailed;
    private Task _count = Task.CompletedTask;

    /// <summary>Creates the counter and starts its first count; a count that fails is logged to <paramref name="logger"/> once per run of failures.</summary>
    public DurableDepthCounter(IMessageStore<TMessage> store, IDepthCountTarget target, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _target = target;
        _logger = logger ?? NullLogger.Instance;
        StartCount();
        FirstCount = _count;
        _timer = WeakTimer.Start(timeProvider, this, static s => s.OnTimer(), LoadLevelingDefaults.StoreCountInterval, LoadLevelingDefaults.StoreCountInterval);
    }

    /// <summary>Gets the first count, which completes (never faults) when it has answered or failed.</summary>
    public Task FirstCount { get; }

    /// <summary>Gets whether the first count has not answered yet.</summary>
    public bool FirstCountPending => _firstCountPending;

    /// <summary>Counts messages the store now holds because the buffer enqueued them.</summary>
    public void Stored(int count) => Interlocked.Add(ref _stored, count);

    /// <summary>Marks a settle under way in the store, not yet counted as released.</summary>
    public void BeginSettle() => Interlocked.Increment(ref _settling);

    /// <summary>Ends what <see cref="BeginSettle"/> began, after the settle was counted as released (or failed).</summary>
    public void EndSettle() => Interlocked.Decrement(ref _settling);

    /// <summary>Stops counting and waits for a count under way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _timer.DisposeAsync().ConfigureAwait(false);
        await Volatile.Read(ref _count).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void OnTimer()
    {
        // Only near the bound does the count matter, and a count may scan the store; a failed one is tried again.
        if (!_stopping.IsCancellationRequested && (_countFailed || _target.CountDue))
        {
            StartCount();
        }
    }

    private void StartCount()
    {
        if (Interlocked.Exchange(ref _counting, 1) == 0)
        {
            var count = CountAsync();
            Volatile.Write(ref _count, count);

            // Cleared only once the task is recorded, so that DisposeAsync always waits for the latest count.
            count.ContinueWith(
                static (_, s) => Volatile.Write(ref ((DurableDepthCounter<TMessage>)s!)._counting, 0),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private async Task CountAsync()
    {
        try
        {
            var storedBefore = Volatile.Read(ref _stored);
            var statistics = await _store.GetStatisticsAsync(_stopping.Token).ConfigureAwait(false);
            var held = statistics.Ready + statistics.Delayed + statistics.InFlight;

            // Settling is read before released: a settle is counted as released before it leaves settling, so one of
            // the two reads sees it.
            var settling = Volatile.Read(ref _settling);
            _target.Recounted(held - storedBefore + settling);
            _countFailed = false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The store could not be counted (disposed, busy, a broker connection down): the last count stands, and
            // the timer tries again at its next tick. Logged once per run of failures, not at every tick.
            if (!_countFailed && !_stopping.IsCancellationRequested)
            {
                LoadLevelingLog.StoreCountFailed(_logger, ex, _store.Name);
            }

            _countFailed = true;
        }
        finally
        {
            if (_firstCountPending)
            {
                _firstCountPending = false;
                _target.FirstCountDone();
            }
        }
    }
}
