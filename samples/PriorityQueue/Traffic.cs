using MessagingPatterns;

/// <summary>The offered load: requests at a steady rate for a while, 20% premium, 40% standard, 40% free.</summary>
public sealed record Traffic(double PerSecond, TimeSpan Duration)
{
    // The same seed in every run, so every scheduler faces the very same sequence of requests.
    private const int Seed = 7;

    /// <summary>Publishes the requests at the rate, recording each once the store has accepted it.</summary>
    public async Task PublishAsync(IProducer<Request> producer, RunLedger ledger, CancellationToken cancellationToken)
    {
        var random = new Random(Seed);
        var start = TimeProvider.System.GetTimestamp();
        var sent = 0;
        while (true)
        {
            var elapsed = TimeProvider.System.GetElapsedTime(start);
            var due = (int)(PerSecond * Math.Min(elapsed.TotalSeconds, Duration.TotalSeconds));
            for (; sent < due; sent++)
            {
                var id = $"request-{sent}";
                var request = new Request(sent, Malformed: sent % 500 == 499);
                await producer.PublishAsync(new Message<Request>(request, id, (int)PickClass(random)), cancellationToken);
                ledger.RecordPublished(id);
            }

            if (elapsed >= Duration)
            {
                return;
            }

            // Small bursts every few milliseconds keep the rate steady without a timer per message.
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken);
        }
    }

    private static ServiceClass PickClass(Random random) => random.Next(10) switch
    {
        < 2 => ServiceClass.Premium,
        < 6 => ServiceClass.Standard,
        _ => ServiceClass.Free,
    };
}
