using MessagingPatterns.Conformance;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>What the conformance runs over SQLite share: a new database file per store, deleted after the test.</summary>
public abstract class SqliteConformanceTestsBase : MessageStoreConformanceTests
{
    private readonly List<TempDatabase> _databases = [];

    // A lone consumer's acks each wait for a disk flush (about 1–3 ms here, more on a busy disk).
    protected override int MessagesPerConcurrentProducer => 400;

    /// <summary>Options for a store over a new database file that is deleted after the test.</summary>
    private protected SqliteStoreOptions NewDatabaseOptions()
    {
        var database = new TempDatabase();
        _databases.Add(database);
        return database.Options();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var database in _databases)
        {
            database.Dispose();
        }
    }
}

public sealed class SqliteStoreConformanceTests : SqliteConformanceTestsBase
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        SqliteMessageStore.Create<ConformanceMessage>(name, NewDatabaseOptions(), timeProvider: timeProvider);
}
