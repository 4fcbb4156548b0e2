using MessagingPatterns.Testing;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>The load-leveling buffer over the SQLite store keeps the whole store contract.</summary>
public sealed class LoadLevelingOverSqliteConformanceTests : SqliteConformanceTestsBase
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        var sqlite = SqliteMessageStore.Create<ConformanceMessage>(name, DatabaseOptions(name), timeProvider: timeProvider);
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

        (await overflow.GetStatisticsAsync()).Ready.Should().Be(40, "a full buffer spills instead of rejecting, and the spills are committed to the database");

        // The buffer recounts its overflow from the database every second; a spill that crosses a recount may be
        // counted twice until the next one (it errs high, never low): wait, bounded, for the settled count.
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

/// <summary>
/// A load-leveling buffer over a SQLite file that outlives its process or is shared with others: the bound counts
/// what the file holds. A second store on the same file stands for another process.
/// </summary>
public sealed class LoadLevelingOverSharedSqliteTests : IDisposable
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly TempDatabase _database = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task AfterARestart_MessagesLeftInTheFile_CountAgainstTheCapacity()
    {
        await using (var earlierRun = SqliteMessageStore.Create<int>("orders", _database.Options(), timeProvider: _time))
        {
            await earlierRun.EnqueueBatchAsync(Enumerable.Range(0, 3).Select(i => new Message<int>(i, $"m-{i}")).ToArray());
        }

        await using var buffer = Buffer(capacity: 4, FullMode.Reject);
        await buffer.EnqueueAsync(new Message<int>(3, "m-3")).AsTask().WaitAsync(s_patience);

        buffer.GetSnapshot().Depth.Should().Be(4);
        await FluentActions.Awaiting(() => buffer.EnqueueAsync(new Message<int>(4, "m-4")).AsTask()).Should().ThrowAsync<QueueFullException>();
    }

    [Fact]
    public async Task APublishingProcess_GetsRoomFromAcksInAConsumingProcess()
    {
        await using var publisher = Buffer(capacity: 3, FullMode.Wait);
        await using var consumer = SqliteMessageStore.Create<int>("orders", _database.Options(), timeProvider: _time);
        for (var i = 0; i < 3; i++)
        {
            await publisher.EnqueueAsync(new Message<int>(i, $"m-{i}")).AsTask().WaitAsync(s_patience);
        }

        var fourth = publisher.EnqueueAsync(new Message<int>(3, "m-3")).AsTask();
        var leases = new Delivery<int>[3];
        (await consumer.ReceiveAsync(leases, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience)).Should().Be(3);
        foreach (var delivery in leases)
        {
            (await consumer.AckAsync(delivery.Lease)).Should().BeTrue();
        }

        fourth.IsCompleted.Should().BeFalse("the publisher has not counted the file since");
        _time.Advance(TimeSpan.FromSeconds(1));

        await fourth.WaitAsync(s_patience);
        publisher.GetSnapshot().Depth.Should().Be(1);
        (await consumer.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    public void Dispose() => _database.Dispose();

    private ILoadLevelingStore<int> Buffer(int capacity, FullMode mode) => MessageStore.WithLoadLeveling(
        SqliteMessageStore.Create<int>("orders", _database.Options(), timeProvider: _time),
        new LoadLevelingOptions { Capacity = capacity, FullMode = mode },
        _time);
}

/// <summary>DropOldest over SQLite drops the oldest ready message of the lowest priority, every time.</summary>
public sealed class SqliteDropOldestTests : IDisposable
{
    private readonly TempDatabase _database = new();

    [Fact]
    public async Task DropOldest_OverSqlite_DropsTheOldestReadyMessage_EveryTime()
    {
        // On a fake clock the buffer counts the store once, at start: a later count that crossed a drop would err
        // toward full for a moment, and this test is about which message is dropped, not how many.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var dropped = new List<DroppedMessage>();
        await using var store = MessageStore.WithLoadLeveling(
            SqliteMessageStore.Create<int>("drop-oldest", _database.Options(), timeProvider: time),
            new LoadLevelingOptions { Capacity = 3, FullMode = FullMode.DropOldest, OnDropped = dropped.Add },
            time);
        for (var i = 0; i < 23; i++)
        {
            await store.EnqueueAsync(new Message<int>(i, $"m-{i}"));
        }

        dropped.Select(d => d.MessageId).Should().Equal(Enumerable.Range(0, 20).Select(i => $"m-{i}"));
        dropped.Should().OnlyContain(d => d.Reason.Contains("oldest", StringComparison.Ordinal));
        (await store.GetStatisticsAsync()).Ready.Should().Be(3);
    }

    [Fact]
    public async Task DropOldest_OverSqliteWithPriorities_DropsFromTheLowestPriority()
    {
        var dropped = new List<DroppedMessage>();
        await using var store = MessageStore.WithLoadLeveling(
            SqliteMessageStore.Create<int>("drop-lowest", _database.Options()),
            new LoadLevelingOptions { Capacity = 3, FullMode = FullMode.DropOldest, OnDropped = dropped.Add });
        await store.EnqueueAsync(new Message<int>(1, "urgent", priority: 9));
        await store.EnqueueAsync(new Message<int>(2, "low", priority: 0));
        await store.EnqueueAsync(new Message<int>(3, "mid", priority: 5));

        await store.EnqueueAsync(new Message<int>(4, "incoming", priority: 5));

        dropped.Select(d => d.MessageId).Should().Equal("low");
    }

    public void Dispose() => _database.Dispose();
}
