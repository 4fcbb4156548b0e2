using MessagingPatterns.Conformance;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// The store contract against the real server, with <see cref="PostgreSqlClock.Process"/> so the kit's fake clock
/// drives leases and delays. The database clock, the default, is tested on its own by this project's own tests.
/// </summary>
public sealed class PostgreSqlStoreConformanceTests : MessageStoreConformanceTests
{
    private readonly TestSchema _schema = new();

    protected override int MessagesPerConcurrentProducer => 500;

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        PostgreSqlMessageStore.Create<ConformanceMessage>(name, _schema.Options(PostgreSqlClock.Process), timeProvider: timeProvider);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}
