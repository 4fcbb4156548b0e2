namespace MessagingPatterns.Consumers;

/// <summary>
/// The cancellation of one worker's handler attempts. An attempt that outlives the handler timeout, or is
/// still running when a shutdown's drain period ends, has its token cancelled. The token source is reused
/// from attempt to attempt and replaced only after it was cancelled, so an attempt that finishes in time
/// costs neither an allocation nor a timer operation (a timer per attempt dominated the runtime's cost).
/// </summary>
internal sealed class AttemptGuard : IDisposable
{
    private readonly Lock _lock = new();
    private CancellationTokenSource _source = new();
    private long _startedAt;
    private bool _running;
    private bool _timedOut;
    private bool _shutDown;
    private volatile bool _abandoned;

    /// <summary>Whether the pool gave up on this worker: its attempt ran past the timeout and the grace period.</summary>
    public bool Abandoned => _abandoned;

    /// <summary>Starts an attempt at <paramref name="timestamp"/> and returns its token.</summary>
    public CancellationToken Begin(long timestamp)
    {
        lock (_lock)
        {
            _startedAt = timestamp;
            _running = true;
            _timedOut = false;
            return _shutDown ? new CancellationToken(canceled: true) : _source.Token;
        }
    }

    /// <summary>Ends the current attempt; returns whether it had run past its timeout.</summary>
    public bool End()
    {
        lock (_lock)
        {
            _running = false;
            return _timedOut;
        }
    }

    /// <summary>Cancels the current attempt if it started more than <paramref name="timeout"/> before <paramref name="now"/>.</summary>
    public void CancelIfOverdue(TimeProvider time, long now, TimeSpan timeout)
    {
        CancellationTokenSource? overdue = null;
        lock (_lock)
        {
            if (_running && !_timedOut && time.GetElapsedTime(_startedAt, now) >= timeout)
            {
                _timedOut = true;
                overdue = Detach();
            }
        }

        // Outside the lock: cancelling runs the handler's callbacks, which may end the attempt.
        overdue?.Cancel();
    }

    /// <summary>
    /// Marks the worker abandoned, once, if its current attempt started at least <paramref name="limit"/> before
    /// <paramref name="now"/>; returns whether it did.
    /// </summary>
    public bool TryAbandon(TimeProvider time, long now, TimeSpan limit)
    {
        lock (_lock)
        {
            if (!_running || _abandoned || time.GetElapsedTime(_startedAt, now) < limit)
            {
                return false;
            }

            _abandoned = true;
            return true;
        }
    }

    /// <summary>Cancels the current attempt and every later one: the shutdown's drain period is over.</summary>
    public void CancelForShutdown()
    {
        CancellationTokenSource? running;
        lock (_lock)
        {
            _shutDown = true;
            running = _running ? Detach() : null;
        }

        running?.Cancel();
    }

    /// <summary>Cancels the current attempt because the resilience pipeline's own token was cancelled.</summary>
    public void CancelCurrent()
    {
        CancellationTokenSource? running;
        lock (_lock)
        {
            running = _running ? Detach() : null;
        }

        running?.Cancel();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _source.Dispose();
        }
    }

    /// <summary>Hands the current source to the caller to cancel and gives later attempts a fresh one (under the lock).</summary>
    private CancellationTokenSource Detach()
    {
        var current = _source;
        _source = new CancellationTokenSource();
        return current;
    }
}
