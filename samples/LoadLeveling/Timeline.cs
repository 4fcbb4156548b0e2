using MessagingPatterns;

/// <summary>One row of the timeline: the rates over the interval that ended at <see cref="At"/>, and the depth then.</summary>
public sealed record Point(TimeSpan At, double ArrivalsPerSecond, double ProcessedPerSecond, long Depth);

/// <summary>What the timeline says about the run.</summary>
public sealed record TimelineSummary(long PeakDepth, TimeSpan PeakAt, double PeakArrivals, double BacklogRate, TimeSpan DrainedAt);

/// <summary>Samples the buffer's snapshot at a fixed interval and keeps the series, for the terminal and the chart.</summary>
public sealed class Timeline(ILoadLevelingStore<SensorEvent> buffer, TimeSpan interval, Action<Point> onPoint)
{
    private readonly List<Point> _points = [];

    /// <summary>The series so far; read once sampling has stopped.</summary>
    public IReadOnlyList<Point> Points => _points;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var start = TimeProvider.System.GetTimestamp();
        var previous = buffer.GetSnapshot();
        Add(new Point(TimeSpan.Zero, 0, 0, previous.Depth));
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                // The snapshot's own rates average the last second, which would smear a one-second spike; the
                // difference of its running totals gives the rate over exactly this row's interval.
                var now = buffer.GetSnapshot();
                var at = TimeProvider.System.GetElapsedTime(start);
                var seconds = (at - _points[^1].At).TotalSeconds;
                Add(new Point(
                    at,
                    (now.TotalArrived - previous.TotalArrived) / seconds,
                    (now.TotalProcessed - previous.TotalProcessed) / seconds,
                    now.Depth));
                previous = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Sampling is over.
        }
    }

    /// <summary>
    /// The peak depth, the peak arrival rate, the processing rate while a backlog waited (the rows that began and
    /// ended with one), and when the queue was empty again after the peak.
    /// </summary>
    public TimelineSummary Summarize(double pacedRate)
    {
        var peak = _points.MaxBy(p => p.Depth)!;
        var backlog = _points.Skip(1).Where((p, i) => p.Depth > pacedRate / 10 && _points[i].Depth > pacedRate / 10).ToList();
        var drained = _points.FirstOrDefault(p => p.At > peak.At && p.Depth <= 10) ?? _points[^1];
        return new TimelineSummary(
            peak.Depth,
            peak.At,
            _points.Max(p => p.ArrivalsPerSecond),
            backlog.Count > 0 ? backlog.Average(p => p.ProcessedPerSecond) : 0,
            drained.At);
    }

    private void Add(Point point)
    {
        _points.Add(point);
        onPoint(point);
    }
}
