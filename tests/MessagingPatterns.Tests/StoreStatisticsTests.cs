namespace MessagingPatterns.Tests;

public sealed class StoreStatisticsTests
{
    [Fact]
    public void Equality_ComparesTheCounts_NotTheOldestReadyAge()
    {
        var earlier = new StoreStatistics(3, 1, 2, 0) { OldestReadyAge = TimeSpan.FromSeconds(1) };
        var later = earlier with { OldestReadyAge = TimeSpan.FromSeconds(9) };

        later.Should().Be(earlier, "the age is a reading of the clock, not part of what the store holds");
        later.GetHashCode().Should().Be(earlier.GetHashCode());
        (earlier with { Ready = 4 }).Should().NotBe(earlier);
    }

    [Fact]
    public async Task InMemoryStore_ReportsTheOldestReadyMessagesAge_OnItsClock()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = MessageStore.CreateInMemory<int>("ages", timeProvider: time);
        (await store.GetStatisticsAsync()).OldestReadyAge.Should().BeNull("nothing is ready");

        await store.EnqueueAsync(new Message<int>(1));
        time.Advance(TimeSpan.FromSeconds(42));

        (await store.GetStatisticsAsync()).OldestReadyAge.Should().Be(TimeSpan.FromSeconds(42));
    }
}
