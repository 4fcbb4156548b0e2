// Competing Consumers: three service instances ("hosts") share one queue. Each takes messages as it has
// capacity; a few messages fail once and are retried, a few always fail and end up dead-lettered.
using System.Collections.Concurrent;
using MessagingPatterns;
using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var messages = args.Contains("--short") ? 300 : 3_000;
const int Hosts = 3;

// One shared store stands for the queue the instances share (a broker or database in production).
var store = MessageStore.CreateInMemory<WorkItem>("work");
var ledger = new Ledger();

var hosts = new List<IHost>();
for (var h = 1; h <= Hosts; h++)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Critical);
    builder.Services.AddSingleton(ledger);
    builder.Services.AddSingleton(new HostName($"host-{h}"));
    builder.Services.AddMessageQueue<WorkItem>("work", (_, _) => new NonOwningStore(store))
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

Console.WriteLine($"Published {messages} messages to 3 hosts × 4 workers.");
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

/// <summary>Lets each host use the shared store without disposing it when the host stops.</summary>
public sealed class NonOwningStore(IMessageStore<WorkItem> inner) : IMessageStore<WorkItem>
{
    public string Name => inner.Name;

    public ValueTask EnqueueAsync(Message<WorkItem> message, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, cancellationToken);

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<WorkItem>> messages, CancellationToken cancellationToken = default) => inner.EnqueueBatchAsync(messages, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<Delivery<WorkItem>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) => inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) => inner.AckAsync(lease, cancellationToken);

    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default) => inner.ReleaseAsync(lease, delay, cancellationToken);

    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default) => inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);

    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) => inner.DeadLetterAsync(lease, reason, cancellationToken);

    public ValueTask<DeadLetterPage<WorkItem>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default) =>
        inner.PurgeDeadLettersAsync(filter, cancellationToken);

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default) =>
        inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
