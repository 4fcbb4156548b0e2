using MessagingPatterns.Conformance;
using MessagingPatterns.LoadLeveling;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>The load-leveling buffer over the SQLite store keeps the whole store contract.</summary>
public sealed class LoadLevelingOverSqliteConformanceTests : SqliteConformanceTestsBase
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        var sqlite = SqliteMessageStore.Create<ConformanceMessage>(name, NewDatabaseOptions(), timeProvider: timeProvider);
        return MessageStore.WithLoadLeveling(sqlite, new LoadLevelingOptions { Capacity = 100_000, RequireNoDataLoss = true }, timeProvider);
    }
}

/// <summary>SQLite as the durable overflow of an in-memory load-leveling buffer.</summary>
public sealed class SqliteOverflowTests : IDisposable
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly TempDatabase _database = new();

    [Fact]
    public async Task FullInMemoryBuffer_SpillsToSqlite_AndDrainsBackInPublishOrder()
    {
        await using var overflow = SqliteMessageStore.Create<int>("overflow", _database.Options());
        await using var buffer = MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<int>("buffer"),
            new LoadLevelingOptions { Capacity = 10, FullMode = FullMode.Reject },
            overflowStore: overflow);

        await buffer.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(i => new Message<int>(i, $"m-{i}")).ToArray());
        for (var i = 10; i < 50; i++)
        {
            await buffer.EnqueueAsync(new Message<int>(i, $"m-{i}")).AsTask().WaitAsync(s_patience);
        }

        buffer.GetSnapshot().Overflowed.Should().Be(40, "a full buffer spills instead of rejecting");
        (await overflow.GetStatisticsAsync()).Ready.Should().Be(40, "the spilled messages are committed to the database");

        var received = new List<int>();
        var lease = new Delivery<int>[1];
        while (received.Count < 50)
        {
            await buffer.ReceiveAsync(lease, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience);
            received.Add(lease[0].Message.Body);
            (await buffer.AckAsync(lease[0].Lease)).Should().BeTrue();
        }

        received.Should().Equal(Enumerable.Range(0, 50), "overflowed messages come back in publish order");
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task RequireNoDataLoss_OverSqlite_IsAccepted()
    {
        var act = () => MessageStore.WithLoadLeveling(
            SqliteMessageStore.Create<int>("durable", _database.Options()),
            new LoadLevelingOptions { RequireNoDataLoss = true });

        await using var store = act.Should().NotThrow().Subject;
    }

    public void Dispose() => _database.Dispose();
}
