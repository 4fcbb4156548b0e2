using MessagingPatterns;

/// <summary>The arrivals: a steady trickle for the whole duration, plus a spike spread evenly over a short time.</summary>
public sealed record Traffic(double TricklePerSecond, TimeSpan SpikeStart, TimeSpan SpikeDuration, int SpikeSize, TimeSpan Duration)
{
    /// <summary>The arrival rate at the height of the spike.</summary>
    public double PeakPerSecond => TricklePerSecond + (SpikeSize / SpikeDuration.TotalSeconds);

    /// <summary>Publishes the events on schedule, recording each once the store has accepted it.</summary>
    public async Task PublishAsync(IProducer<SensorEvent> producer, Ledger ledger)
    {
        var start = TimeProvider.System.GetTimestamp();
        var sent = 0;
        while (true)
        {
            var elapsed = TimeProvider.System.GetElapsedTime(start);
            for (var due = DueBy(elapsed); sent < due; sent++)
            {
                var id = $"event-{sent}";
                await producer.PublishAsync(new Message<SensorEvent>(new SensorEvent(sent, Malformed: sent % 1_000 == 999), id));
                ledger.RecordPublished(id);
            }

            if (elapsed >= Duration)
            {
                return;
            }

            // Small batches every few milliseconds keep the rates smooth without a timer per event.
            await Task.Delay(TimeSpan.FromMilliseconds(5));
        }
    }

    /// <summary>How many events should have been published this far into the run.</summary>
    private int DueBy(TimeSpan elapsed)
    {
        var trickle = TricklePerSecond * Math.Min(elapsed.TotalSeconds, Duration.TotalSeconds);
        var spikeShare = Math.Clamp((elapsed - SpikeStart) / SpikeDuration, 0, 1);
        return (int)(trickle + (SpikeSize * spikeShare));
    }
}
