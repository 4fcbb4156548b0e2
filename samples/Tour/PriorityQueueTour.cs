using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

/// <summary>The same overload twice, once per scheduler of the multi-queue store: what each service class waits.</summary>
public static class PriorityQueueTour
{
    public const string Title = "Priority queue";

    public const string Explanation = """
        When there is more work than capacity, someone has to wait; a priority queue decides who. Premium,
        standard and free requests (20/40/40%) arrive at 1.5 times what four workers serve, twice: with
        Strict scheduling (always the highest class waiting) and with Deadline scheduling (latency targets
        premium 50 ms, standard 300 ms, free 1 s; the class closest to its target goes first). Strict keeps
        premium and standard fast and puts the whole overload on free. Deadline lets standard use its slack
        so free is served sooner; once free is past its target the overload can no longer be hidden, and it
        falls back to strict order, so the lowest class degrades first.
        """;

    private const int Workers = 4;

    public static readonly TimeSpan HandlerTime = TimeSpan.FromMilliseconds(2);

    // Indexed by priority: free, standard, premium.
    private static readonly TimeSpan[] s_targets = [TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(50)];

    public static async Task<PatternResult> RunAsync(bool shortRun)
    {
        // Measured, not assumed: a 2 ms delay takes longer than 2 ms on a busy machine, and the point is a known overload.
        var capacity = await MeasureCapacityAsync(requests: 500);
        var perSecond = 1.5 * capacity;
        var overloadFor = TimeSpan.FromSeconds(shortRun ? 1 : 4);
        Console.WriteLine(
            $"  {Workers} workers × {HandlerTime.TotalMilliseconds:N0} ms serve about {capacity:N0} requests/s; " +
            $"offering {perSecond:N0}/s for {overloadFor.TotalSeconds:N0} s");

        var strict = await RunOnceAsync(LevelScheduling.Strict, perSecond, overloadFor);
        var deadline = await RunOnceAsync(LevelScheduling.Deadline, perSecond, overloadFor);

        Console.WriteLine();
        Console.WriteLine($"  {"latency p50 / p95",-20}{"Strict",-24}Deadline");
        foreach (var serviceClass in new[] { ServiceClass.Premium, ServiceClass.Standard, ServiceClass.Free })
        {
            var label = $"{serviceClass.ToString().ToLowerInvariant()} ({Format(s_targets[(int)serviceClass])})";
            Console.WriteLine($"  {label,-20}{Percentiles(strict.Ledger, serviceClass),-24}{Percentiles(deadline.Ledger, serviceClass)}");
        }

        var free = ServiceClass.Free.ToString();
        return new PatternResult(
            "priority queue",
            strict.Ledger.Published + deadline.Ledger.Published,
            strict.Ledger.Handled + deadline.Ledger.Handled,
            DeadLettered: 0,
            strict.Lost + deadline.Lost,
            $"free p95: Strict {Format(strict.Ledger.Percentile(free, 0.95))}, Deadline {Format(deadline.Ledger.Percentile(free, 0.95))}");
    }

    private static async Task<(Ledger Ledger, int Lost)> RunOnceAsync(LevelScheduling scheduling, double perSecond, TimeSpan overloadFor)
    {
        var ledger = new Ledger();
        using var host = await StartHostAsync(scheduling, ledger);
        var producer = host.Services.GetRequiredService<IProducer<Request>>();
        var store = host.Services.GetRequiredService<IMessageStore<Request>>();

        // The same seed in both runs, so both schedulers face the very same sequence of requests.
        var random = new Random(7);
        await Schedule.PublishAsync(
            elapsed => (int)(perSecond * elapsed.TotalSeconds),
            overloadFor,
            number => PublishAsync(producer, ledger, number, PickClass(random)));
        await ledger.WaitUntilSettledAsync(store, TimeSpan.FromSeconds(60));
        await host.StopAsync();

        var lost = ledger.CountLost((await store.GetDeadLettersAsync(Math.Max(1, ledger.Published))).Select(d => d.MessageId));
        Console.WriteLine($"  {scheduling,-8} published {ledger.Published}, handled {ledger.Handled}, lost {lost}");
        return (ledger, lost);
    }

    /// <summary>
    /// Serves a batch published at once and returns the requests per second the workers got through once warm (the
    /// first fifth only warms up: compilation, thread pool growth).
    /// </summary>
    private static async Task<double> MeasureCapacityAsync(int requests)
    {
        var ledger = new Ledger();
        using var host = await StartHostAsync(LevelScheduling.Strict, ledger);
        var producer = host.Services.GetRequiredService<IProducer<Request>>();
        for (var i = 0; i < requests; i++)
        {
            await PublishAsync(producer, ledger, i, ServiceClass.Free);
        }

        while (ledger.Handled < requests / 5)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1));
        }

        var started = TimeProvider.System.GetTimestamp();
        var handledBefore = ledger.Handled;
        await ledger.WaitUntilSettledAsync(host.Services.GetRequiredService<IMessageStore<Request>>(), TimeSpan.FromSeconds(30));
        var perSecond = (ledger.Handled - handledBefore) / TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        await host.StopAsync();
        return perSecond;
    }

    /// <summary>A service as a user would write it: the generic host, the multi-queue store and a consumer pool.</summary>
    private static async Task<IHost> StartHostAsync(LevelScheduling scheduling, Ledger ledger)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        builder.Services.AddSingleton(ledger);
        builder.Services.AddInMemoryMultiQueue<Request>("requests", options =>
            {
                options.Levels = 3;
                options.Scheduler = scheduling == LevelScheduling.Deadline
                    ? LevelScheduler.Deadline([.. s_targets.Reverse()])   // written from the highest level down
                    : LevelScheduler.Strict;
            })
            .AddConsumer<RequestConsumer>(options =>
            {
                options.Concurrency = Workers;
                options.PrefetchCount = 1;   // lease only the request about to be served, so a later premium one is not stuck behind it
            });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task PublishAsync(IProducer<Request> producer, Ledger ledger, int number, ServiceClass serviceClass)
    {
        var id = $"request-{number}";
        await producer.PublishAsync(new Message<Request>(new Request(number), id, (int)serviceClass));
        ledger.RecordPublished(id);
    }

    private static ServiceClass PickClass(Random random) => random.Next(10) switch
    {
        < 2 => ServiceClass.Premium,
        < 6 => ServiceClass.Standard,
        _ => ServiceClass.Free,
    };

    private static string Percentiles(Ledger ledger, ServiceClass serviceClass) =>
        $"{Format(ledger.Percentile(serviceClass.ToString(), 0.50))} / {Format(ledger.Percentile(serviceClass.ToString(), 0.95))}";

    private static string Format(TimeSpan latency) => latency.TotalMilliseconds < 1_000
        ? $"{latency.TotalMilliseconds:0} ms"
        : $"{latency.TotalSeconds:0.0#} s";
}

/// <summary>The service class a customer pays for; its value is the message priority (higher is more urgent).</summary>
public enum ServiceClass
{
    Free = 0,
    Standard = 1,
    Premium = 2,
}

/// <summary>The message: one request.</summary>
public sealed record Request(int Number);

/// <summary>The handler: serves a request in about 2 ms and records how long it took from enqueue, per class.</summary>
public sealed class RequestConsumer(Ledger ledger, TimeProvider time) : IConsumer<Request>
{
    public async Task ConsumeAsync(MessageContext<Request> context, CancellationToken cancellationToken)
    {
        await Task.Delay(PriorityQueueTour.HandlerTime, cancellationToken);
        ledger.RecordHandled(context.MessageId, ((ServiceClass)context.Priority).ToString(), time.GetUtcNow() - context.EnqueuedAt);
    }
}
