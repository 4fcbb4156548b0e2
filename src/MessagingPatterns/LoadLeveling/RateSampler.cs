namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Keeps about one second of samples of a buffer's running totals, taken by a timer, so a snapshot can turn the
/// totals into rates without the hot path doing more than incrementing counters.
/// </summary>
internal sealed class RateSampler : IDisposable
{
    private readonly TimeProvider _time;
    private readonly Func<Totals> _read;
    private readonly Sample[] _ring = new Sample[LoadLevelingDefaults.SampleCount];
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private int _next;
    private int _count;

    public RateSampler(TimeProvider timeProvider, Func<Totals> read)
    {
        _time = timeProvider;
        _read = read;
        Take();
        _timer = WeakTimer.Start(timeProvider, this, static s => s.Take(), LoadLevelingDefaults.SampleInterval, LoadLevelingDefaults.SampleInterval);
    }

    /// <summary>Running totals of a buffer.</summary>
    public readonly record struct Totals(long Arrived, long Processed, long WaitTicks, long WaitCount);

    /// <summary>Rates over the window from the oldest kept sample to now.</summary>
    public (double ArrivalRate, double ProcessingRate, TimeSpan AverageWait) Rates(Totals now)
    {
        var nowTicks = _time.GetTimestamp();
        Sample oldest;
        lock (_lock)
        {
            oldest = _ring[_count < _ring.Length ? 0 : _next];
        }

        var seconds = _time.GetElapsedTime(oldest.Timestamp, nowTicks).TotalSeconds;
        if (seconds <= 0)
        {
            return (0, 0, TimeSpan.Zero);
        }

        var waits = now.WaitCount - oldest.Totals.WaitCount;
        var averageWait = waits > 0 ? TimeSpan.FromTicks((now.WaitTicks - oldest.Totals.WaitTicks) / waits) : TimeSpan.Zero;
        return ((now.Arrived - oldest.Totals.Arrived) / seconds, (now.Processed - oldest.Totals.Processed) / seconds, averageWait);
    }

    public void Dispose() => _timer.Dispose();

    private void Take()
    {
        var sample = new Sample(_time.GetTimestamp(), _read());
        lock (_lock)
        {
            _ring[_next] = sample;
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
        }
    }

    private readonly record struct Sample(long Timestamp, Totals Totals);
}
