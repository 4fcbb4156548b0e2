using MessagingPatterns.Conformance;
using MessagingPatterns.Priority;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Tests.Priority;

public sealed class PriorityQueueStoreConformanceTests : MessageStoreConformanceTests
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreatePriority<ConformanceMessage>(name, new PriorityQueueOptions { AgingMaxWait = TimeSpan.FromSeconds(1) }, timeProvider);
}
