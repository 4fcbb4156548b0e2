using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Priority;

public sealed class PriorityQueueStoreConformanceTests : MessageStoreConformanceTests
{
    // Aging lifts a waiting message only as time passes; the suite's clock stands still unless a test moves it.
    protected override StoreCapabilities Capabilities { get; } = new() { PriorityLevels = 10 };

    protected override string CapabilitiesTableRow => "in-memory priority queue";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreatePriority<ConformanceMessage>(name, new PriorityQueueOptions { AgingMaxWait = TimeSpan.FromSeconds(1) }, timeProvider);
}
