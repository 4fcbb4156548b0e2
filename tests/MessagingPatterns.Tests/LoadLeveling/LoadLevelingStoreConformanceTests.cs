using MessagingPatterns.Conformance;
using MessagingPatterns.LoadLeveling;
using MessagingPatterns.Stores;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The decorator over the in-memory store, unpaced and with room to spare, keeps the whole store contract.</summary>
public sealed class LoadLevelingStoreConformanceTests : MessageStoreConformanceTests
{
    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider) =>
        MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<ConformanceMessage>(name, timeProvider: timeProvider),
            new LoadLevelingOptions { Capacity = 1_000_000 },
            timeProvider);
}
