using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

/// <summary>Three service instances share one queue; each message goes to one of them, failures are retried or dead-lettered.</summary>
public static class CompetingConsumersTour
{
    public const string Title = "Competing consumers";

    public const string Explanation = """
        Several instances of a service take work from one shared queue, each as fast as it can, so adding
        instances adds throughput and a crashed one only slows things down. A received message is leased, so
        it goes to exactly one consumer at a time. Here three hosts with four workers each share a queue;
        every 10th message fails once and is retried, every 100th always fails and is dead-lettered after
        three deliveries, with the exception as its reason.
        """;

    private const int Hosts = 3;
    private const int MaxDeliveryAttempts = 3;

    public static async Task<PatternResult> RunAsync(bool shortRun)
    {
        var messages = shortRun ? 300 : 3_000;
        var ledger = new Ledger();

        // The shared store stands for the broker or database the instances share in production.
        await using var store = MessageStore.CreateInMemory<WorkItem>("work");
        var hosts = new List<IHost>();
        for (var h = 1; h <= Hosts; h++)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Critical);   // dead letters would log errors; the result counts them
            builder.Services.AddSingleton(ledger);
            builder.Services.AddSingleton(new HostName($"host-{h}"));
            builder.Services.AddMessageQueue<WorkItem>("work", (_, _) => new SharedStore<WorkItem>(store))
                .AddConsumer<WorkItemConsumer>(options =>
                {
                    options.Concurrency = 4;
                    options.MaxDeliveryAttempts = MaxDeliveryAttempts;
                    options.RetryCount = 0;                                    // retry through the store, so it shows
                    options.RedeliveryDelay = TimeSpan.FromMilliseconds(50);
                });
            var host = builder.Build();
            await host.StartAsync();
            hosts.Add(host);
        }

        var producer = hosts[0].Services.GetRequiredService<IProducer<WorkItem>>();
        for (var i = 0; i < messages; i++)
        {
            var id = $"work-{i}";
            await producer.PublishAsync(new Message<WorkItem>(new WorkItem(i), id));
            ledger.RecordPublished(id);
        }

        await ledger.WaitUntilSettledAsync(store, TimeSpan.FromSeconds(60));
        foreach (var host in hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        var perHost = ledger.HandledPerGroup();
        Console.WriteLine($"  {Hosts} hosts × 4 workers handled: {string.Join(", ", perHost.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}");
        Console.WriteLine($"  {ledger.Retried} transient failures retried");
        var deadLetters = await store.GetDeadLettersAsync(messages);
        if (deadLetters.Count > 0)
        {
            var example = deadLetters[0];
            Console.WriteLine($"  {deadLetters.Count} dead-lettered, e.g. {example.MessageId} after {example.DeliveryCount} deliveries: {example.Reason}");
        }

        return new PatternResult(
            "competing consumers",
            ledger.Published,
            ledger.Handled,
            deadLetters.Count,
            ledger.CountLost(deadLetters.Select(d => d.MessageId)),
            $"{perHost.Count} hosts shared the work, {ledger.Retried} retried");
    }
}

/// <summary>The message: a unit of work.</summary>
public sealed record WorkItem(int Number);

/// <summary>Which instance a consumer runs in.</summary>
public sealed record HostName(string Value);

/// <summary>The handler: every 10th item fails on its first delivery, every 100th always fails.</summary>
public sealed class WorkItemConsumer(Ledger ledger, HostName host, TimeProvider time) : IConsumer<WorkItem>
{
    public async Task ConsumeAsync(MessageContext<WorkItem> context, CancellationToken cancellationToken)
    {
        var number = context.Body.Number;
        await Task.Delay(TimeSpan.FromMilliseconds(1 + (number % 4)), cancellationToken);
        if (number % 100 == 0)
        {
            throw new InvalidOperationException($"work item {number} can never succeed");
        }

        if (number % 10 == 0 && context.DeliveryCount == 1)
        {
            ledger.RecordRetry();
            throw new TimeoutException("downstream timed out (transient)");
        }

        ledger.RecordHandled(context.MessageId, host.Value, time.GetUtcNow() - context.EnqueuedAt);
    }
}
