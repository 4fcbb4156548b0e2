using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Priority;

public sealed class MultiQueueStoreConformanceTests : MessageStoreConformanceTests
{
    protected override StoreCapabilities Capabilities { get; } = new() { PriorityLevels = 3 };

    protected override string CapabilitiesTableRow => "in-memory multi-queue";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreateMultiQueue<ConformanceMessage>(name, timeProvider: timeProvider);
}
