using MessagingPatterns.Testing;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>What the conformance runs over SQLite share: a new database file per store, deleted after the test.</summary>
public abstract class SqliteConformanceTestsBase : MessageStoreConformanceTests
{
    private readonly Dictionary<string, TempDatabase> _databases = new(StringComparer.Ordinal);

    // A lone consumer's acks each wait for a disk flush (about 1–3 ms here, more on a busy disk).
    protected override int MessagesPerConcurrentProducer => 400;

    // The same: each dead-letter and ack of the redrive-under-load test waits for a flush.
    protected override int RedriveUnderLoadMessages => 1_000;

    protected override StoreCapabilities Capabilities { get; } = new() { DurableAcrossReopen = true, PriorityLevels = Message<int>.MaxPriority + 1 };

    /// <summary>
    /// Options for a store over the test's database file for <paramref name="name"/>: a new file the first
    /// time, the same file when the suite reopens the queue. Deleted after the test.
    /// </summary>
    private protected SqliteStoreOptions DatabaseOptions(string name)
    {
        if (!_databases.TryGetValue(name, out var database))
        {
            database = new TempDatabase();
            _databases.Add(name, database);
        }

        return database.Options();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var database in _databases.Values)
        {
            database.Dispose();
        }
    }
}

public sealed class SqliteStoreConformanceTests : SqliteConformanceTestsBase
{
    protected override string CapabilitiesTableRow => "SQLite";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        SqliteMessageStore.Create<ConformanceMessage>(name, DatabaseOptions(name), timeProvider: timeProvider);
}
