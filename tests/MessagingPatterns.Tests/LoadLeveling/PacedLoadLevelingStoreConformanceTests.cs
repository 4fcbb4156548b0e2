using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The same, paced by a limiter far faster than the suite, so every receive goes through the permit path.</summary>
public sealed class PacedLoadLevelingStoreConformanceTests : MessageStoreConformanceTests
{
    protected override StoreCapabilities Capabilities { get; } = new();

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider),
            new LoadLevelingOptions { Capacity = 1_000_000, MessagesPerSecond = 1_000_000, Burst = 1_000_000 },
            timeProvider);
}
