using MessagingPatterns.Testing;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>The load-leveling buffer over the PostgreSQL store keeps the whole store contract.</summary>
public sealed class LoadLevelingOverPostgreSqlConformanceTests : PostgreSqlConformanceTestsBase
{
    protected override int MessagesPerConcurrentProducer => 300;

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        var store = PostgreSqlMessageStore.Create<ConformanceMessage>(name, Options(), timeProvider: timeProvider);
        return MessageStore.WithLoadLeveling(store, new LoadLevelingOptions { Capacity = 100_000, RequireNoDataLoss = true }, timeProvider);
    }
}

/// <summary>PostgreSQL as the durable overflow of an in-memory load-leveling buffer.</summary>
public sealed class PostgreSqlOverflowTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private TestSchema? _schema;

    [SkippableFact]
    public async Task FullInMemoryBuffer_SpillsToPostgreSql_AndDrainsBackInPublishOrder()
    {
        _schema = new TestSchema();
        await using var overflow = PostgreSqlMessageStore.Create<int>("overflow", _schema.Options());
        await using var buffer = MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<int>("buffer"),
            new LoadLevelingOptions { Capacity = 10, FullMode = FullMode.Reject },
            overflowStore: overflow);

        await buffer.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(i => new Message<int>(i, $"m-{i}")).ToArray());
        for (var i = 10; i < 50; i++)
        {
            await buffer.EnqueueAsync(new Message<int>(i, $"m-{i}")).AsTask().WaitAsync(s_patience);
        }

        (await overflow.GetStatisticsAsync()).Ready.Should().Be(40, "a full buffer spills instead of rejecting, and the spills are committed to the database");

        // The buffer's overflow count is recounted from the database every second, and a spill that crosses a recount
        // may be counted twice until the next one (it errs high, never low): wait, bounded, for the settled count.
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); buffer.GetSnapshot().Overflowed != 40 && waited.Elapsed < s_patience;)
        {
            await Task.Delay(20);
        }

        buffer.GetSnapshot().Overflowed.Should().Be(40, "every spill is counted once the recount settles");

        var received = new List<int>();
        var lease = new Delivery<int>[1];
        while (received.Count < 50)
        {
            await buffer.ReceiveAsync(lease, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience);
            received.Add(lease[0].Message.Body);
            (await buffer.AckAsync(lease[0].Lease)).Should().BeTrue();
        }

        received.Should().Equal(Enumerable.Range(0, 50), "overflowed messages come back in publish order");
        // The mover acks a moved message in the overflow store only after the buffer holds it (so it is never in
        // neither place), so the last of those acks may still be committing when its message is received here.
        var empty = new StoreStatistics(0, 0, 0, 0);
        var statistics = await overflow.GetStatisticsAsync();
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !statistics.Equals(empty) && waited.Elapsed < s_patience; statistics = await overflow.GetStatisticsAsync())
        {
            await Task.Delay(20);
        }

        statistics.Should().Be(empty, "every moved message is acked in the overflow store");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }
}
