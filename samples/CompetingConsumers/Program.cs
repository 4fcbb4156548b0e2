// Competing Consumers: three service instances ("hosts") share one queue. Each takes messages as it has
// capacity; a few messages fail once and are retried, a few always fail and end up dead-lettered.
using System.Collections.Concurrent;
using MessagingPatterns;
using MessagingPatterns.Samples;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var messages = args.Contains("--short") ? 300 : 3_000;
const int Hosts = 3;

// One shared store stands for the queue the instances share: in memory by default, or with --store sqlite|postgres
// a database that separate processes (on separate machines, for PostgreSQL) could share the same way.
var store = SampleStores.Create<WorkItem>("work", args);
var ledger = new Ledger();

var hosts = new List<IHost>();
for (var h = 1; h <= Hosts; h++)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Critical);
    builder.Services.AddSingleton(ledger);
    builder.Services.AddSingleton(new HostName($"host-{h}"));
    builder.Services.AddMessageQueue(store)                     // shared, not owned: stopping a host leaves it open
        .AddConsumer<WorkItemConsumer>(options =>
        {
            options.Concurrency = 4;
            options.MaxDeliveryAttempts = 3;
            options.RetryCount = 0;                                  // retry through the store, visibly
            options.RedeliveryDelay = TimeSpan.FromMilliseconds(50);
        });
    hosts.Add(builder.Build());
}

foreach (var host in hosts)
{
    await host.StartAsync();
}

var producer = hosts[0].Services.GetRequiredService<IProducer<WorkItem>>();
for (var i = 0; i < messages; i++)
{
    await producer.PublishAsync(new Message<WorkItem>(new WorkItem(i), $"work-{i}"));
    ledger.Published++;
}

Console.WriteLine($"Published {messages} messages to 3 hosts × 4 workers (store: {SampleStores.Selected(args)}).");
using (var progress = new PeriodicTimer(TimeSpan.FromMilliseconds(250)))
{
    while (ledger.Settled < messages && await progress.WaitForNextTickAsync())
    {
        Console.WriteLine($"  handled {ledger.Handled.Count,5}  retried {ledger.Retries,4}  dead-lettered {await DeadLetteredAsync(),3}");
    }
}

foreach (var host in hosts)
{
    await host.StopAsync();
    host.Dispose();
}

Console.WriteLine();
foreach (var (host, count) in ledger.PerHost.OrderBy(p => p.Key))
{
    Console.WriteLine($"  {host}: handled {count}");
}

var deadLetters = await store.GetDeadLettersAsync(messages);
foreach (var deadLetter in deadLetters.Take(3))
{
    Console.WriteLine($"  dead letter {deadLetter.MessageId} after {deadLetter.DeliveryCount} deliveries: {deadLetter.Reason}");
}

var accountedFor = ledger.Handled.Keys.Concat(deadLetters.Select(d => d.Message!.Body.Number)).ToHashSet();
var lost = messages - accountedFor.Count;
Console.WriteLine($"published {ledger.Published}, handled {ledger.Handled.Count}, dead-lettered {deadLetters.Count}, lost {lost}");
await store.DisposeAsync();
await SampleStores.CleanUpAsync(args);
return lost == 0 ? 0 : 1;

async Task<long> DeadLetteredAsync() => (await store.GetStatisticsAsync()).DeadLettered;

/// <summary>The message: a unit of work.</summary>
public sealed record WorkItem(int Number);

/// <summary>Which instance a consumer runs in.</summary>
public sealed record HostName(string Value);

/// <summary>What happened, for the summary line.</summary>
public sealed class Ledger
{
    public int Published { get; set; }

    public ConcurrentDictionary<int, bool> Handled { get; } = new();

    public ConcurrentDictionary<string, int> PerHost { get; } = new();

    public int Retries;

    private int _poisonSettled;

    public int Settled => Handled.Count + Volatile.Read(ref _poisonSettled);

    public void PoisonGaveUp() => Interlocked.Increment(ref _poisonSettled);
}

/// <summary>The handler: every 10th message fails on its first delivery, every 100th always fails.</summary>
public sealed class WorkItemConsumer(Ledger ledger, HostName host) : IConsumer<WorkItem>
{
    public async Task ConsumeAsync(MessageContext<WorkItem> context, CancellationToken cancellationToken)
    {
        var number = context.Body.Number;
        await Task.Delay(TimeSpan.FromMilliseconds(1 + number % 4), cancellationToken);
        if (number % 100 == 0)
        {
            if (context.DeliveryCount == 3)
            {
                ledger.PoisonGaveUp();
            }

            throw new InvalidOperationException($"work item {number} can never succeed");
        }

        if (number % 10 == 0 && context.DeliveryCount == 1)
        {
            Interlocked.Increment(ref ledger.Retries);
            throw new TimeoutException("downstream timed out (transient)");
        }

        ledger.Handled.TryAdd(number, true);
        ledger.PerHost.AddOrUpdate(host.Value, 1, (_, n) => n + 1);
    }
}
