using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Stores;

/// <summary>The in-memory queue with a bound: the whole contract, plus publishes that wait for room.</summary>
public sealed class BoundedInMemoryQueueStoreConformanceTests : MessageStoreConformanceTests
{
    /// <summary>Enough room for every test's messages at once, small enough for the capacity test to fill.</summary>
    private const int Bound = 10_000;

    protected override StoreCapabilities Capabilities { get; } = new() { Capacity = Bound };

    protected override string CapabilitiesTableRow => "in-memory queue, bounded";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.CreateInMemory<ConformanceMessage>(name, new InMemoryQueueOptions { Capacity = Bound }, timeProvider);
}
