using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

/// <summary>One run: a store registration (its scheduler) and the consumer pools that serve it, in a host of its own.</summary>
public sealed record Scenario(
    string Name,
    string Description,
    Func<IServiceCollection, MessageQueueBuilder<Request>> AddQueue,
    Action<MessageQueueBuilder<Request>> AddConsumers)
{
    /// <summary>Offers the traffic to a fresh host, waits until every request is settled, and accounts for each one.</summary>
    public async Task<RunResult> RunAsync(Traffic traffic, TimeSpan drainTimeout)
    {
        var ledger = new RunLedger();
        using var host = await StartHostAsync(ledger);
        var producer = host.Services.GetRequiredService<IProducer<Request>>();
        var store = host.Services.GetRequiredService<IMessageStore<Request>>();

        var started = TimeProvider.System.GetTimestamp();
        using var stopReporting = new CancellationTokenSource();
        var reporting = ReportProgressAsync(ledger, store, started, stopReporting.Token);
        await traffic.PublishAsync(producer, ledger, CancellationToken.None);
        if (!await WaitUntilSettledAsync(ledger, drainTimeout))
        {
            Console.WriteLine($"  gave up waiting after {drainTimeout.TotalSeconds:N0} s with {ledger.Published - ledger.Settled} requests unsettled");
        }

        var elapsed = TimeProvider.System.GetElapsedTime(started);
        await stopReporting.CancelAsync();
        await reporting;

        // Stopping drains the running handlers, so every settlement they made has reached the store.
        await host.StopAsync();
        var deadLetters = await store.GetDeadLettersAsync(Math.Max(1, ledger.Published));
        var deadLetterIds = deadLetters.Select(d => d.MessageId).ToHashSet();
        var lost = ledger.PublishedIds.Count(id => !ledger.WasHandled(id) && !deadLetterIds.Contains(id));
        return new RunResult(this, ledger, deadLetters.Count, lost, elapsed);
    }

    /// <summary>
    /// Serves a batch of free requests published at once and returns the requests per second the workers got
    /// through once warm. Going through the same host, store and pools as a run also compiles those code paths,
    /// so the first timed run does not pay for it.
    /// </summary>
    public async Task<double> MeasureCapacityAsync(int requests)
    {
        var ledger = new RunLedger();
        using var host = await StartHostAsync(ledger);
        var producer = host.Services.GetRequiredService<IProducer<Request>>();
        for (var i = 0; i < requests; i++)
        {
            var id = $"warm-up-{i}";
            await producer.PublishAsync(new Message<Request>(new Request(i, Malformed: false), id, (int)ServiceClass.Free));
            ledger.RecordPublished(id);
        }

        // The first quarter only warms up (compilation, thread pool growth): timing it would understate the capacity.
        var warmUp = requests / 4;
        while (ledger.Handled < warmUp)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1));
        }

        var started = TimeProvider.System.GetTimestamp();
        var handledBefore = ledger.Handled;
        await WaitUntilSettledAsync(ledger, TimeSpan.FromSeconds(30));
        var perSecond = (ledger.Handled - handledBefore) / TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        await host.StopAsync();
        return perSecond;
    }

    /// <summary>A service as a user would write it: the generic host, the multi-queue store and consumer pools from the DI extensions.</summary>
    private async Task<IHost> StartHostAsync(RunLedger ledger)
    {
        var builder = Host.CreateApplicationBuilder();

        // Each dead-lettered request would log an error; the summary accounts for them instead.
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        builder.Services.AddSingleton(ledger);
        AddConsumers(AddQueue(builder.Services));

        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private async Task ReportProgressAsync(RunLedger ledger, IMessageStore<Request> store, long started, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
                var waiting = store is IPriorityMessageStore<Request> levels
                    ? $"premium {levels.GetReadyCount((int)ServiceClass.Premium),5:N0}  " +
                      $"standard {levels.GetReadyCount((int)ServiceClass.Standard),5:N0}  " +
                      $"free {levels.GetReadyCount((int)ServiceClass.Free),5:N0}"
                    : $"{(await store.GetStatisticsAsync(cancellationToken)).Ready,5:N0} (one queue, not counted per class)";
                Console.WriteLine(
                    $"  {Name,-8} {seconds,3:N0}s  published {ledger.Published,6:N0}  handled {ledger.Handled,6:N0}  waiting: {waiting}");
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    private static async Task<bool> WaitUntilSettledAsync(RunLedger ledger, TimeSpan timeout)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (ledger.Settled < ledger.Published)
        {
            if (TimeProvider.System.GetElapsedTime(start) > timeout)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }

        return true;
    }
}

/// <summary>The outcome of one run.</summary>
public sealed record RunResult(Scenario Scenario, RunLedger Ledger, int DeadLettered, int Lost, TimeSpan Elapsed);
