using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Pacing;

/// <summary>The pacing decorator alone keeps the store contract, paced far faster than the suite so every receive takes permits.</summary>
public sealed class PacedStoreConformanceTests : MessageStoreConformanceTests
{
    protected override StoreCapabilities Capabilities { get; } = new();

    protected override string CapabilitiesTableRow => "paced store";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.WithPacing(
            MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider),
            new PacingOptions { MessagesPerSecond = 1_000_000, Burst = 1_000_000 },
            timeProvider);
}
