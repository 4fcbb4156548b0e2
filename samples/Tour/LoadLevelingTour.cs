using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

/// <summary>A spike of arrivals against a paced consumer: the queue absorbs it, processing stays flat.</summary>
public static class LoadLevelingTour
{
    public const string Title = "Load leveling";

    public const string Explanation = """
        A queue between a bursty producer and a consumer that must not be overwhelmed (a rate-limited API, a
        small database) turns a spike of arrivals into a longer, steady stream of work. Here a trickle of 50
        events/s carries a spike several times over what the consumer may take; the consumer is paced at
        500/s (WithLoadLeveling), so the queue grows during the spike and shrinks at a steady rate after it.
        Nothing is dropped: a full queue would make publishers wait.
        """;

    private const double PacedRate = 500;

    public static async Task<PatternResult> RunAsync(bool shortRun)
    {
        var (spikeSize, spikeFor, duration) = shortRun
            ? (600, TimeSpan.FromSeconds(0.3), TimeSpan.FromSeconds(2))
            : (3_000, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));
        var spikeStart = TimeSpan.FromSeconds(0.5);

        var ledger = new Ledger();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        builder.Services.AddSingleton(ledger);
        builder.Services.AddInMemoryQueue<Reading>("readings")
            .WithLoadLeveling(options =>
            {
                options.MessagesPerSecond = PacedRate;
                options.Burst = 20;
                options.Capacity = 10_000;
                options.FullMode = FullMode.Wait;
            })
            .AddConsumer<ReadingConsumer>(options => options.Concurrency = 8);
        using var host = builder.Build();
        await host.StartAsync();
        var producer = host.Services.GetRequiredService<IProducer<Reading>>();
        var buffer = host.Services.GetRequiredKeyedService<ILoadLevelingStore<Reading>>("readings");

        using var stopWatching = new CancellationTokenSource();
        var watcher = new BufferWatcher(buffer, printEvery: TimeSpan.FromSeconds(shortRun ? 0.5 : 1));
        var watching = watcher.RunAsync(stopWatching.Token);
        await Schedule.PublishAsync(
            elapsed => (int)((50 * elapsed.TotalSeconds) + (spikeSize * Math.Clamp((elapsed - spikeStart) / spikeFor, 0, 1))),
            duration,
            async number =>
            {
                var id = $"reading-{number}";
                await producer.PublishAsync(new Message<Reading>(new Reading(number), id));
                ledger.RecordPublished(id);
            });
        await ledger.WaitUntilSettledAsync(buffer, TimeSpan.FromSeconds(60));
        await stopWatching.CancelAsync();
        await watching;
        await host.StopAsync();

        var deadLetters = await buffer.GetDeadLettersAsync(Math.Max(1, ledger.Published));
        Console.WriteLine($"  peak depth {watcher.PeakDepth:N0}; processed {watcher.BacklogRate:N0}/s while a backlog waited (paced at {PacedRate:N0}/s)");
        return new PatternResult(
            "load leveling",
            ledger.Published,
            ledger.Handled,
            deadLetters.Count,
            ledger.CountLost(deadLetters.Select(d => d.MessageId)),
            $"peak depth {watcher.PeakDepth:N0}, processed a steady {watcher.BacklogRate:N0}/s");
    }
}

/// <summary>The message: one sensor reading.</summary>
public sealed record Reading(int Number);

/// <summary>The handler: a couple of milliseconds of work, the kind of call a paced consumer protects.</summary>
public sealed class ReadingConsumer(Ledger ledger, TimeProvider time) : IConsumer<Reading>
{
    public async Task ConsumeAsync(MessageContext<Reading> context, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(2), cancellationToken);
        ledger.RecordHandled(context.MessageId, "readings", time.GetUtcNow() - context.EnqueuedAt);
    }
}
