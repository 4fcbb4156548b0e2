using MessagingPatterns.LoadLeveling;
using MessagingPatterns.LoadLeveling.FullModes;

namespace MessagingPatterns.Tests.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.Reject"/> as its own policy.</summary>
public sealed class RejectFullModeTests
{
    [Fact]
    public async Task Handle_FailsThePublishWithQueueFull_AndCountsIt()
    {
        var totals = new LoadLevelingTotals("orders");
        var policy = new RejectFullMode<int>("orders", 10, totals);

        var error = (await FluentActions.Awaiting(() => policy.HandleAsync(new PendingPublish<int>(new Message<int>(1), 0), CancellationToken.None).AsTask())
            .Should().ThrowAsync<QueueFullException>()).Which;

        error.QueueName.Should().Be("orders");
        error.Capacity.Should().Be(10);
        error.Message.Should().Contain("Reject");
        totals.Rejected.Should().Be(1);
        policy.TakesPublishFirst.Should().BeFalse();
    }
}
