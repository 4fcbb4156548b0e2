using System.Threading.RateLimiting;

namespace MessagingPatterns.Pacing;

/// <summary>
/// The default pacing limiter: permits on an absolute timeline of <c>rate</c> per second, of which up to
/// <c>burst</c> may be taken ahead of time after a quiet spell. All time comes from a <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// <para>
/// Permit <i>k</i> has a scheduled time, 1/rate after permit <i>k</i>−1's (a "theoretical arrival time", as in the
/// generic cell rate algorithm), and is granted no earlier than <c>burst − 1</c> intervals before it. While someone
/// waits, the schedule runs on from where it was, not from when a timer happened to fire, so a late timer grants the
/// permits that fell due meanwhile at once instead of losing them: over time the rate is exact whatever the timers'
/// lateness. Only a quiet spell (nobody waiting, and no request within one interval of the last grant) resets the
/// schedule to now, which caps the credit at the burst.
/// </para>
/// <para>
/// <see cref="TokenBucketRateLimiter"/> reads a <see cref="System.Diagnostics.Stopwatch"/> even when replenished by
/// hand, so it cannot follow a fake clock. Waiting requests are served in arrival order; a new request never overtakes
/// a waiting one. A timer is armed only while requests wait.
/// </para>
/// </remarks>
internal sealed class PacingRateLimiter : ReplenishingRateLimiter
{
    // Floating-point schedules can land a hair after the instant a permit is due.
    private const double Tolerance = 1e-9;

    // How far behind now the schedule may run while someone waits, in seconds: a late timer's permits are made up, but
    // a process that stalled for longer does not then release a flood at the downstream it protects.
    private const double MaxCatchUp = 0.05;

    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly double _interval;
    private readonly double _ahead;
    private readonly int _burst;
    private readonly Lock _lock = new();
    private readonly LinkedList<Request> _queue = new();
    private readonly ITimer _timer;

    // Seconds since _origin: when the next permit is scheduled, and when the last one was granted.
    private double _next;
    private double _lastGrant = double.NegativeInfinity;
    private long _successful;
    private long _failed;
    private bool _disposed;

    public PacingRateLimiter(double messagesPerSecond, int burst, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(messagesPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
        _origin = timeProvider.GetTimestamp();
        _interval = 1 / messagesPerSecond;
        _burst = burst;
        _ahead = (burst - 1) * _interval;
        _timer = timeProvider.CreateTimer(static s => ((PacingRateLimiter)s!).ServeQueue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public override bool IsAutoReplenishing => true;

    public override TimeSpan ReplenishmentPeriod => TimeSpan.FromTicks(Math.Max(1, (long)(TimeSpan.TicksPerSecond * _interval)));

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                // Full (every burst permit available) from the moment the schedule fell behind now.
                var now = Now();
                return _queue.Count > 0 || _next > now + Tolerance ? null : TimeSpan.FromSeconds(now - Math.Max(_next, 0));
            }
        }
    }

    public override bool TryReplenish() => false;

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            var available = 0L;
            if (_queue.Count == 0)
            {
                var now = Now();
                var start = Start(now, waiting: false);
                available = Math.Clamp((long)Math.Floor(((now + _ahead - start) / _interval) + 1 + Tolerance), 0, _burst);
            }

            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = available,
                CurrentQueuedCount = _queue.Sum(static r => (long)r.Permits),
                TotalSuccessfulLeases = _successful,
                TotalFailedLeases = _failed,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ThrowIfTooMany(permitCount);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_queue.Count == 0 && TryTake(permitCount, waiting: false))
            {
                _successful++;
                return Lease.Acquired;
            }

            _failed++;
            return Lease.Refused(RetryAfter(permitCount, waiting: _queue.Count > 0));
        }
    }

    /// <summary>
    /// Acquires permits for a caller that knows someone has been waiting for them since the last grant (a consumer
    /// that took its turn behind the last one and found a message ready): the schedule runs on, as for a queued request.
    /// </summary>
    public ValueTask<RateLimitLease> AcquireContinuingAsync(int permitCount, CancellationToken cancellationToken) =>
        AcquireCoreAsync(permitCount, continuing: true, cancellationToken);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        AcquireCoreAsync(permitCount, continuing: false, cancellationToken);

    private ValueTask<RateLimitLease> AcquireCoreAsync(int permitCount, bool continuing, CancellationToken cancellationToken)
    {
        ThrowIfTooMany(permitCount);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitLease>(cancellationToken);
        }

        Request request;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_queue.Count == 0 && TryTake(permitCount, continuing))
            {
                _successful++;
                return new ValueTask<RateLimitLease>(Lease.Acquired);
            }

            request = new Request(permitCount, this);
            request.Node = _queue.AddLast(request);
            if (_queue.Count == 1)
            {
                // From here on the schedule runs on while this request waits: no reset to now when it is served.
                _next = Start(Now(), continuing);
                ArmTimer();
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.UnsafeRegister(static (s, token) => ((Request)s!).Owner.Cancel((Request)s!, token), request);
            lock (_lock)
            {
                // Stored under the lock that serving unregisters under; served already, nothing else would remove it.
                if (!request.Task.IsCompleted)
                {
                    request.Registration = registration;
                    return new ValueTask<RateLimitLease>(request.Task);
                }
            }

            registration.Unregister();
        }

        return new ValueTask<RateLimitLease>(request.Task);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }

        base.Dispose(disposing);
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        Close();
        await base.DisposeAsyncCore().ConfigureAwait(false);
    }

    private void Close()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var request in _queue)
            {
                request.TrySetResult(Lease.Refused(null));
                request.Registration.Unregister();
            }

            _queue.Clear();
        }

        _timer.Dispose();
    }

    private void ThrowIfTooMany(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        if (permitCount > _burst)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, $"At most {_burst} permits (the burst) can be taken at once.");
        }
    }

    private double Now() => _time.GetElapsedTime(_origin).TotalSeconds;

    /// <summary>
    /// Where the schedule stands for a request at <paramref name="now"/> (under the lock). A request that waited, or
    /// that comes back within one interval of the last grant (a consumer taking its next message), continues the
    /// schedule, so time a timer was late is not lost (up to <see cref="MaxCatchUp"/>); after a quiet spell the schedule
    /// restarts at now, which caps what can be taken at once at the burst.
    /// </summary>
    private double Start(double now, bool waiting) =>
        waiting || now - _lastGrant <= _interval + Tolerance ? Math.Max(_next, now - MaxCatchUp) : Math.Max(_next, now);

    private bool TryTake(int permits, bool waiting)
    {
        var now = Now();
        var start = Start(now, waiting);

        // The last of the permits may be taken up to (burst − 1) intervals ahead of its scheduled time.
        if (start + ((permits - 1) * _interval) > now + _ahead + Tolerance)
        {
            return false;
        }

        _next = start + (permits * _interval);
        _lastGrant = now;
        return true;
    }

    // Cut to what a timer accepts: at a very low rate the wait could pass it (the timer then fires early and
    // ServeQueue arms it again).
    private TimeSpan RetryAfter(int permits, bool waiting)
    {
        var now = Now();
        var due = Start(now, waiting) + ((permits - 1) * _interval) - _ahead;
        return TimerDue.Clamp(Math.Max(0, due - now) * TimeSpan.TicksPerSecond);
    }

    /// <summary>Arms the timer for when the first waiting request can be served (under the lock).</summary>
    private void ArmTimer()
    {
        if (_queue.First is { } first && !_disposed)
        {
            _timer.Change(RetryAfter(first.Value.Permits, waiting: true), Timeout.InfiniteTimeSpan);
        }
    }

    private void ServeQueue()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            ServeQueueUnderLock();
        }
    }

    private void Cancel(Request request, CancellationToken token)
    {
        lock (_lock)
        {
            if (request.Node?.List is null)
            {
                return;
            }

            var wasFirst = _queue.First == request.Node;
            _queue.Remove(request.Node);
            request.TrySetCanceled(token);
            if (wasFirst)
            {
                // The next request may need fewer permits, or be servable now.
                ServeQueueUnderLock();
            }
        }
    }

    private void ServeQueueUnderLock()
    {
        // Continuations run asynchronously, so completing requests under the lock runs no caller code here. Every
        // permit that fell due while the timer was late is granted now, in order.
        while (_queue.First is { } first && TryTake(first.Value.Permits, waiting: true))
        {
            _queue.RemoveFirst();
            _successful++;
            first.Value.TrySetResult(Lease.Acquired);
            first.Value.Registration.Unregister();
        }

        ArmTimer();
    }

    private sealed class Request(int permits, PacingRateLimiter owner) : TaskCompletionSource<RateLimitLease>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Permits { get; } = permits;

        public PacingRateLimiter Owner { get; } = owner;

        public LinkedListNode<Request>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Acquired = new(true, null);

        public override bool IsAcquired { get; } = acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public static Lease Refused(TimeSpan? retryAfter) => new(false, retryAfter);

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } value && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = value;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
