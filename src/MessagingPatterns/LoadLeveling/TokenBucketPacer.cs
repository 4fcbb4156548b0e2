using System.Threading.RateLimiting;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The default pacing limiter: a <see cref="TokenBucketRateLimiter"/> refilled by a timer from the buffer's
/// <see cref="TimeProvider"/>, so pacing follows that clock (a fake clock in tests) instead of the limiter's own
/// real-time timer.
/// </summary>
/// <remarks>
/// The period is chosen so each refill adds a whole number of tokens, no more than the burst (a bigger refill would
/// be cut to the bucket's size and lose rate), and at least <see cref="LoadLevelingDefaults.MinReplenishmentPeriod"/>
/// long when the burst allows, so the timer does not wake for every message at high rates. A late timer catches up
/// on the periods it missed, up to a full bucket.
/// </remarks>
internal sealed class TokenBucketPacer : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly long _periodTicks;
    private readonly long _startTimestamp;
    private readonly long _maxCatchUp;
    private readonly Lock _lock = new();
    private long _periodsAccounted;

    public TokenBucketPacer(double messagesPerSecond, int burst, TimeProvider timeProvider)
    {
        _time = timeProvider;
        var wanted = Math.Ceiling(messagesPerSecond * LoadLevelingDefaults.MinReplenishmentPeriod.TotalSeconds);
        var tokensPerPeriod = (int)Math.Clamp(wanted, 1, burst);
        _periodTicks = Math.Max(1, (long)Math.Round(tokensPerPeriod / messagesPerSecond * TimeSpan.TicksPerSecond));
        _maxCatchUp = (burst + tokensPerPeriod - 1) / tokensPerPeriod;
        Limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = TimeSpan.FromTicks(_periodTicks),
            AutoReplenishment = false,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _startTimestamp = timeProvider.GetTimestamp();
        var period = TimeSpan.FromTicks(_periodTicks);
        _timer = timeProvider.CreateTimer(static s => ((TokenBucketPacer)s!).Replenish(), this, period, period);
    }

    /// <summary>The limiter consumers take permits from.</summary>
    public TokenBucketRateLimiter Limiter { get; }

    /// <summary>The refill period chosen for the rate and burst.</summary>
    public TimeSpan Period => TimeSpan.FromTicks(_periodTicks);

    public void Dispose()
    {
        _timer.Dispose();
        Limiter.Dispose();
    }

    private void Replenish()
    {
        long due;
        lock (_lock)
        {
            var periods = _time.GetElapsedTime(_startTimestamp).Ticks / _periodTicks;
            due = Math.Min(periods - _periodsAccounted, _maxCatchUp);
            _periodsAccounted = periods;
        }

        for (var i = 0; i < due; i++)
        {
            Limiter.TryReplenish();
        }
    }
}
