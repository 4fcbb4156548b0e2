using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Priority;

public sealed class DeadlineMultiQueueStoreConformanceTests : MessageStoreConformanceTests
{
    // Deadline scheduling serves by latency target, not strictly by priority.
    protected override StoreCapabilities Capabilities { get; } = new();

    protected override string CapabilitiesTableRow => "in-memory multi-queue, Deadline scheduling";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreateMultiQueue<ConformanceMessage>(
            name,
            new MultiQueueOptions { Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)) },
            timeProvider);
}
