using FluentAssertions;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>The oldest ready message's age in the statistics, which health checks and dashboards read.</summary>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>
    /// Checks <c>OldestReadyAge</c>: it follows the clock, skips leased messages, counts a released message from its
    /// first publish, and is unknown when nothing is ready.
    /// </summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task OldestReadyAge_IsTheAgeOfTheOldestReadyMessage()
    {
        Skip.IfNot(Capabilities.ReportsOldestReadyAge, "The store cannot tell how old its oldest message is.");
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        (await OldestReadyAgeAsync(store)).Should().BeNull("nothing is ready");

        await store.EnqueueAsync(Numbered(1));
        await AdvanceTimeAsync(TimeSpan.FromSeconds(10));
        await store.EnqueueAsync(Numbered(2));
        await AdvanceTimeAsync(TimeSpan.FromSeconds(5));
        (await OldestReadyAgeAsync(store)).Should().Be(TimeSpan.FromSeconds(15), "the first message was published 15 s ago");

        var first = await ReceiveOneAsync(store);
        first.Message.Id.Should().Be("m-1");
        (await OldestReadyAgeAsync(store)).Should().Be(TimeSpan.FromSeconds(5), "the leased message is not ready");

        (await store.ReleaseAsync(first.Lease).AsTask().WaitAsync(Patience)).Should().BeTrue();
        (await OldestReadyAgeAsync(store)).Should().Be(TimeSpan.FromSeconds(15), "a released message counts from its first publish");

        await ReceiveOneAsync(store);
        await ReceiveOneAsync(store);
        (await OldestReadyAgeAsync(store)).Should().BeNull("both messages are leased");
    }

    /// <summary>Checks <c>OldestReadyAge</c> on a store that reads a server's clock: known while a message is ready, unknown after.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task OldestReadyAge_OnAServersClock_IsKnownWhileAMessageIsReady()
    {
        Skip.IfNot(Capabilities.ReportsOldestReadyAge, "The store cannot tell how old its oldest message is.");
        Skip.If(Capabilities.FollowsTimeProvider, "The store follows the fake clock: the exact test covers it.");
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var age = await OldestReadyAgeAsync(store);
        age.Should().NotBeNull("a message is ready");
        age!.Value.Should().BeGreaterThanOrEqualTo(TimeSpan.Zero);

        await ReceiveOneAsync(store);
        (await OldestReadyAgeAsync(store)).Should().BeNull("the only message is leased");
    }

    private static async Task<TimeSpan?> OldestReadyAgeAsync(IMessageStore<ConformanceMessage> store) =>
        (await store.GetStatisticsAsync().AsTask().WaitAsync(Patience)).OldestReadyAge;
}
