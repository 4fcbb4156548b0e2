using System.Threading.RateLimiting;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The default pacing limiter: a token bucket of <c>burst</c> tokens refilled continuously at <c>rate</c> tokens per
/// second, read from a <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// <see cref="TokenBucketRateLimiter"/> measures elapsed time with <see cref="System.Diagnostics.Stopwatch"/> even when
/// replenished by hand, so it cannot follow a fake clock; this one takes all its time from the
/// <see cref="TimeProvider"/>. Tokens are computed when asked for (no periodic timer); a timer is armed only while
/// requests wait, for the moment the first of them can be served. Waiting requests are served in arrival order, and a
/// new request never overtakes a waiting one.
/// </remarks>
internal sealed class PacingRateLimiter : ReplenishingRateLimiter
{
    // Floating-point refills can land a hair below a whole token at the instant it is due.
    private const double Tolerance = 1e-9;

    private readonly TimeProvider _time;
    private readonly double _rate;
    private readonly int _burst;
    private readonly Lock _lock = new();
    private readonly LinkedList<Request> _queue = new();
    private readonly ITimer _timer;
    private double _tokens;
    private long _lastTimestamp;
    private long _fullSince;
    private long _successful;
    private long _failed;
    private bool _disposed;

    public PacingRateLimiter(double messagesPerSecond, int burst, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(messagesPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _time = timeProvider;
        _rate = messagesPerSecond;
        _burst = burst;
        _tokens = burst;
        _lastTimestamp = timeProvider.GetTimestamp();
        _fullSince = _lastTimestamp;
        _timer = timeProvider.CreateTimer(static s => ((PacingRateLimiter)s!).ServeQueue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public override bool IsAutoReplenishing => true;

    public override TimeSpan ReplenishmentPeriod => TimeSpan.FromTicks(Math.Max(1, (long)(TimeSpan.TicksPerSecond / _rate)));

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                Refill();
                if (_queue.Count > 0 || _tokens < _burst - Tolerance)
                {
                    return null;
                }

                return _time.GetElapsedTime(_fullSince);
            }
        }
    }

    public override bool TryReplenish() => false;

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            Refill();
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = (long)(_tokens + Tolerance),
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
            Refill();
            if (_queue.Count == 0 && TryTake(permitCount))
            {
                return Lease.Acquired;
            }

            _failed++;
            return Lease.Refused(RetryAfter(permitCount));
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
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
            Refill();
            if (_queue.Count == 0 && TryTake(permitCount))
            {
                return new ValueTask<RateLimitLease>(Lease.Acquired);
            }

            request = new Request(permitCount, this);
            request.Node = _queue.AddLast(request);
            if (_queue.Count == 1)
            {
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

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_lastTimestamp, now);
        if (elapsed > TimeSpan.Zero && _tokens < _burst)
        {
            var secondsToFull = (_burst - _tokens) / _rate;
            if (elapsed.TotalSeconds >= secondsToFull)
            {
                // Idle from the moment the bucket filled, not from this look at it.
                _tokens = _burst;
                _fullSince = _lastTimestamp + (long)(secondsToFull * _time.TimestampFrequency);
            }
            else
            {
                _tokens += elapsed.TotalSeconds * _rate;
            }
        }

        _lastTimestamp = now;
    }

    private bool TryTake(int permits)
    {
        if (_tokens + Tolerance < permits)
        {
            return false;
        }

        _tokens = Math.Max(0, _tokens - permits);
        _successful++;
        return true;
    }

    // Cut to what a timer accepts: at a very low rate the wait could pass it (the timer then fires early and
    // ServeQueue arms it again).
    private TimeSpan RetryAfter(int permits) =>
        TimerDue.Clamp(Math.Max(0, permits - _tokens) / _rate * TimeSpan.TicksPerSecond);

    /// <summary>Arms the timer for when the first waiting request can be served (under the lock).</summary>
    private void ArmTimer()
    {
        if (_queue.First is { } first && !_disposed)
        {
            _timer.Change(RetryAfter(first.Value.Permits), Timeout.InfiniteTimeSpan);
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
        // Continuations run asynchronously, so completing requests under the lock runs no caller code here.
        Refill();
        while (_queue.First is { } first && TryTake(first.Value.Permits))
        {
            _queue.RemoveFirst();
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
