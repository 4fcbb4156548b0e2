using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Stores;

public sealed class InMemoryQueueStoreConformanceTests : MessageStoreConformanceTests
{
    protected override StoreCapabilities Capabilities { get; } = new();

    protected override string CapabilitiesTableRow => "in-memory queue";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider);
}
