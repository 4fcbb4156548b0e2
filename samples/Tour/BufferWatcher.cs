using MessagingPatterns;

/// <summary>
/// Watches a load-leveling buffer's snapshots: prints a compact row now and then, and keeps the peak depth and the
/// processing rate while a backlog waited (from the first to the last sample with one).
/// </summary>
public sealed class BufferWatcher(ILoadLevelingStore<Reading> buffer, TimeSpan printEvery)
{
    private const int BarWidth = 30;
    private const long Backlog = 50;   // deeper than this, the consumer always has work waiting
    private static readonly TimeSpan s_sampleEvery = TimeSpan.FromMilliseconds(100);

    private (TimeSpan At, long Processed)? _firstBacklog;
    private (TimeSpan At, long Processed)? _lastBacklog;

    public long PeakDepth { get; private set; }

    public double BacklogRate => _firstBacklog is { } first && _lastBacklog is { } last && last.At > first.At
        ? (last.Processed - first.Processed) / (last.At - first.At).TotalSeconds
        : 0;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var start = TimeProvider.System.GetTimestamp();
        var nextPrint = printEvery;
        using var timer = new PeriodicTimer(s_sampleEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var at = TimeProvider.System.GetElapsedTime(start);
                var snapshot = buffer.GetSnapshot();
                PeakDepth = Math.Max(PeakDepth, snapshot.Depth);
                if (snapshot.Depth > Backlog)
                {
                    _firstBacklog ??= (at, snapshot.TotalProcessed);
                    _lastBacklog = (at, snapshot.TotalProcessed);
                }

                if (at >= nextPrint)
                {
                    nextPrint += printEvery;

                    // The snapshot's rates cover about the last second.
                    var bar = new string('█', (int)Math.Min(BarWidth, snapshot.Depth * BarWidth / Math.Max(1, snapshot.Capacity / 3)));
                    Console.WriteLine(
                        $"  {at.TotalSeconds,4:0.0} s  arrivals {snapshot.ArrivalRate,5:N0}/s  processed {snapshot.ProcessingRate,4:N0}/s  " +
                        $"depth {snapshot.Depth,5:N0} {bar}".TrimEnd());
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }
}
