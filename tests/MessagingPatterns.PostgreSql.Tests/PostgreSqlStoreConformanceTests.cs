using MessagingPatterns.Testing;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// What the conformance runs over PostgreSQL share: a schema of the test's own, and
/// <see cref="PostgreSqlClock.Process"/> so the kit's fake clock drives leases and delays. The database clock, the
/// default, is tested by this project's own tests. Without a server the tests report skipped.
/// </summary>
public abstract class PostgreSqlConformanceTestsBase : MessageStoreConformanceTests
{
    private TestSchema? _schema;

    protected override StoreCapabilities Capabilities { get; } = new()
    {
        DurableAcrossReopen = true,
        PriorityLevels = Message<int>.MaxPriority + 1,
    };

    /// <summary>Options over the test's schema: a queue reopened under the same name finds its messages.</summary>
    private protected PostgreSqlStoreOptions Options() => (_schema ??= new TestSchema()).Options(PostgreSqlClock.Process);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }
}

public sealed class PostgreSqlStoreConformanceTests : PostgreSqlConformanceTestsBase
{
    protected override string CapabilitiesTableRow => "PostgreSQL";

    protected override int MessagesPerConcurrentProducer => 500;

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        PostgreSqlMessageStore.Create<ConformanceMessage>(name, Options(), timeProvider: timeProvider);
}
