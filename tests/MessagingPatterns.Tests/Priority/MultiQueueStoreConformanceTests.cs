using MessagingPatterns.Conformance;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Tests.Priority;

public sealed class MultiQueueStoreConformanceTests : MessageStoreConformanceTests
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreateMultiQueue<ConformanceMessage>(name, timeProvider: timeProvider);
}
