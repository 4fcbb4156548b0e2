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
            new MultiQueueOptions { Scheduling = LevelScheduling.Deadline, LatencyTargets = [TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(50)] },
            timeProvider);
}
