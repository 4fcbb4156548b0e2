using MessagingPatterns.LoadLeveling;
using MessagingPatterns.LoadLeveling.FullModes;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.DropNewest"/> as its own policy.</summary>
public sealed class DropNewestFullModeTests
{
    [Fact]
    public async Task Handle_ReportsEveryMessageOfThePublish_AndCompletesIt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var totals = new LoadLevelingTotals("orders");
        var dropped = new List<DroppedMessage>();
        var policy = new DropNewestFullMode<int>("orders", 10, new DropReporter<int>("orders", dropped.Add, time, totals));
        Message<int>[] batch = [new(1, id: "a"), new(2, id: "b")];

        var outcome = await policy.HandleAsync(new PendingPublish<int>(batch, 0), CancellationToken.None);

        outcome.Should().Be(FullModeOutcome.Done);
        dropped.Cast<DroppedMessage<int>>().Select(d => (d.MessageId, d.Body)).Should().Equal(("a", 1), ("b", 2));
        dropped.Should().AllSatisfy(d =>
        {
            d.Reason.Should().StartWith("dropped:").And.Contain("DropNewest");
            d.QueueName.Should().Be("orders");
            d.DroppedAt.Should().Be(time.GetUtcNow());
        });
        totals.Dropped.Should().Be(2);
    }
}
