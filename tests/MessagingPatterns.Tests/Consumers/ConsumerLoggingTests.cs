using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Tests.Consumers;

public sealed class ConsumerLoggingTests
{
    [Fact]
    public async Task StartAndStop_AreLogged_WithTheQueueAndItsConfiguration()
    {
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        await using var store = MessageStore.CreateInMemory<int>("logged-pool");
        var options = new ConsumerOptions { Concurrency = 3, PrefetchCount = 2, MaxDeliveryAttempts = 4 };
        await using var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => new DelegateConsumer<int>((_, _) => Task.CompletedTask), options, logger: logger);

        await pool.StartAsync(default);
        await pool.StopAsync(default).Within();

        logger.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message).Should().Equal(
            "Consumer pool of queue logged-pool started: 3 workers, prefetch 2, lease 00:00:30, up to 4 deliveries per message.",
            "Consumer pool of queue logged-pool stopped.");
    }
}
