using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The decorator over the in-memory store, unpaced and with room to spare, keeps the whole store contract.</summary>
public sealed class LoadLevelingStoreConformanceTests : MessageStoreConformanceTests
{
    /// <summary>Enough room for every test's messages at once, small enough for the capacity test to fill.</summary>
    private const int Bound = 10_000;

    protected override StoreCapabilities Capabilities { get; } = new() { Capacity = Bound };

    protected override string CapabilitiesTableRow => "load-leveling buffer";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider),
            new LoadLevelingOptions { Capacity = Bound },
            timeProvider);
}
