using MessagingPatterns.Conformance;

namespace MessagingPatterns.Sqlite.Tests;

public sealed class SqliteStoreConformanceTests : MessageStoreConformanceTests
{
    private readonly List<TempDatabase> _databases = [];

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        var database = new TempDatabase();
        _databases.Add(database);
        return SqliteMessageStore.Create<ConformanceMessage>(name, database.Options(), timeProvider: timeProvider);
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
