using MessagingPatterns;
using MessagingPatterns.Testing;

namespace StoreKitConsumer;

// One factory and one declaration of what the store promises; the kit supplies every test.
public sealed class CountingStoreConformanceTests : MessageStoreConformanceTests
{
    protected override StoreCapabilities Capabilities { get; } = new() { DurableAcrossReopen = false, PriorityLevels = 1 };

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        new CountingStore<ConformanceMessage>(MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider));
}
