// The README's code fragments, compiled here so they cannot rot; a test checks the README shows them verbatim.
using System.Text.RegularExpressions;
using MessagingPatterns;
using MessagingPatterns.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;

/// <summary>Holds the README's fragments; never run by the quick start itself.</summary>
internal static class ReadmeSnippets
{
    public static async Task PriorityQueueAsync(HostApplicationBuilder builder, IProducer<Order> producer, Order order)
    {
        #region priority-queue
        builder.Services.AddInMemoryMultiQueue<Order>("orders", options =>
            {
                options.Levels = 3;

                // Latency targets from the highest level down: premium 50 ms, standard 500 ms, free 5 s.
                options.Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
            })
            .AddLevelConsumer<Order, OrderConsumer>(2, options => options.Concurrency = 8)   // premium
            .AddLevelConsumer<Order, OrderConsumer>(0, options => options.Concurrency = 2);  // free

        await producer.PublishAsync(new Message<Order>(order, priority: 2));
        #endregion
    }

    public static void WeightedPriorityQueue(HostApplicationBuilder builder, IHost host)
    {
        #region priority-weighted
        // 70% of receives to premium, 20% to standard, 10% to free while all three are busy, written top level
        // first; an idle level's share goes to the others, so no level starves.
        builder.Services.AddInMemoryMultiQueue<Order>("orders", options => options.Scheduler = LevelScheduler.Weighted(70, 20, 10))
            .AddConsumer<OrderConsumer>(options => options.PrefetchCount = 16);

        // The priority store itself, keyed by the queue's name: per-level views and ready counts.
        var store = host.Services.GetRequiredKeyedService<IPriorityMessageStore<Order>>("orders");
        var premiumWaiting = store.GetReadyCount(2);
        #endregion
        _ = premiumWaiting;
    }

    public static void LoadLeveling(HostApplicationBuilder builder, IHost host)
    {
        #region load-leveling
        builder.Services.AddInMemoryQueue<Order>("orders")
            .WithLoadLeveling(options =>
            {
                options.Capacity = 10_000;                      // messages held, in flight included
                options.FullMode = FullMode.Wait;               // or Reject; DropOldest/DropNewest need OnDropped
                options.PublishTimeout = TimeSpan.FromSeconds(5);
                options.MessagesPerSecond = 200;                // consumers: at most 200 messages/s...
                options.Burst = 20;                             // ...in bursts of at most 20
            })
            .AddConsumer<OrderConsumer>();

        // Depth, arrival and processing rates, average wait, dropped and rejected counts:
        var snapshot = host.Services.GetRequiredKeyedService<ILoadLevelingStore<Order>>("orders").GetSnapshot();
        #endregion
        _ = snapshot;
    }

    public static void LoadLevelingWithOverflow(HostApplicationBuilder builder)
    {
        #region load-leveling-overflow
        builder.Services.AddInMemoryQueue<Order>("orders")
            .WithLoadLeveling(options => options.Capacity = 10_000)
            .WithSqliteOverflow(options => options.DatabasePath = "orders-overflow.db")   // a full buffer spills here
            .AddConsumer<OrderConsumer>();
        #endregion
    }

    public static void Sqlite(HostApplicationBuilder builder)
    {
        #region sqlite
        builder.Services.AddSqliteQueue<Order>("orders", options =>
            {
                options.DatabasePath = "messages.db";
                options.Synchronous = SqliteSynchronousMode.Full;   // the default: flushed before publish returns
            })
            .AddConsumer<OrderConsumer>(options => options.MaxDeliveryAttempts = 5);
        #endregion
    }

    public static void Redaction(HostApplicationBuilder builder)
    {
        #region redaction
        // Exception messages may quote the data they failed on: e-mail addresses are masked in reasons and logs.
        static string Redact(string text) => Regex.Replace(text, @"[\w.+-]+@[\w-]+(\.[\w-]+)+", "[email]");

        builder.Services.AddSqliteQueue<Order>("orders", options =>
            {
                options.DatabasePath = "messages.db";
                options.Redact = Redact;   // the reason of a body it cannot read, and the exceptions it logs
            })
            .AddConsumer<OrderConsumer>(options => options.Redact = Redact);   // handlers' failures
        #endregion
    }

    public static void PostgreSql(HostApplicationBuilder builder, string connectionString)
    {
        #region postgresql
        builder.Services.AddPostgreSqlQueue<Order>("orders", options =>
            {
                options.ConnectionString = connectionString;   // never logged, never in an exception message
                options.Schema = "messaging";                   // the default; both tables live there
            })
            .AddConsumer<OrderConsumer>(options => options.Concurrency = 8);
        #endregion
    }

    public static async Task OutboxAsync(IServiceProvider services, NpgsqlConnection connection, Order order)
    {
        #region postgresql-outbox
        var orders = services.GetRequiredKeyedService<IPostgreSqlMessageStore<Order>>("orders");
        await using var transaction = await connection.BeginTransactionAsync();
        // ... the application's own writes on the same connection and transaction ...
        await orders.EnqueueAsync(new Message<Order>(order), connection, transaction);
        await transaction.CommitAsync();   // the message commits (or rolls back) with the business data
        #endregion
    }

    public static void RabbitMq(HostApplicationBuilder builder)
    {
        #region rabbitmq
        builder.Services.AddRabbitMqQueue<Order>("orders", options =>
            {
                options.ConnectionUri = builder.Configuration["RabbitMq:Uri"];   // amqp://user:password@host:5672/vhost
                options.PrefetchCount = 64;   // sent ahead per store; at least the workers' concurrency x prefetch
            })
            .AddConsumer<OrderConsumer>(options => options.MaxDeliveryAttempts = 5);
        #endregion
    }

    public static async Task DeadLettersAsync(IMessageStore<Order> store, CancellationToken cancellationToken)
    {
        #region dead-letters
        // Browse a page at a time, filtered; the continuation token survives purges and redrives.
        var timeouts = new DeadLetterFilter { ReasonContains = "TimeoutException", DeadLetteredFrom = DateTimeOffset.UtcNow.AddHours(-1) };
        var page = await store.BrowseDeadLettersAsync(timeouts, pageSize: 50, continuationToken: null, cancellationToken);
        foreach (var deadLetter in page.Items)
        {
            Console.WriteLine($"{deadLetter.MessageId} after {deadLetter.DeliveryCount} deliveries: {deadLetter.Reason}");
        }

        // Redrive every match, 100 per step: each message is in the queue or in the dead letters, never both.
        long redriven = await store.RedriveDeadLettersAsync(timeouts, batchSize: 100, cancellationToken);

        // Or delete for good: selected ids, or everything a filter matches.
        long purged = await store.PurgeDeadLettersAsync(new DeadLetterFilter { MessageIds = ["order-17"] }, cancellationToken);
        #endregion
        _ = (redriven, purged);
    }

    public static async Task HealthChecksAsync(HostApplicationBuilder builder, IHost host)
    {
        #region health-checks
        builder.Services.AddHealthChecks().AddMessagingHealthChecks(options =>
        {
            options.ReadyThreshold = 10_000;                            // degraded past 10,000 waiting messages...
            options.OldestReadyAgeThreshold = TimeSpan.FromMinutes(5);  // ...or when the oldest has waited 5 minutes
            options.StoreTimeout = TimeSpan.FromSeconds(5);             // unhealthy when the store takes longer to answer
        });
        builder.Services.Configure<MessagingHealthCheckOptions>("orders", options => options.ReadyThreshold = 100);   // one queue's own

        // ASP.NET Core: app.MapHealthChecks("/health"); or ask directly:
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var orders = report.Entries["messaging:orders"];   // Status, Description, Data["ready"], Data["oldestReadyAgeSeconds"]
        #endregion
        _ = orders;
    }
}
