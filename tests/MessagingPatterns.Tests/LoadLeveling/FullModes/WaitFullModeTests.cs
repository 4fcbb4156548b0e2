using MessagingPatterns.LoadLeveling;
using MessagingPatterns.LoadLeveling.FullModes;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.Wait"/> as its own policy: it waits for room, until the caller's token or the publish timeout.</summary>
public sealed class WaitFullModeTests
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LoadLevelingTotals _totals = new("orders");

    [Fact]
    public async Task Handle_WaitsForRoom_ThenHasItReserved()
    {
        var gate = FullGate();
        var policy = new WaitFullMode<int>(gate, "orders", null, _time, _totals);

        var handle = policy.HandleAsync(Publish(), CancellationToken.None).AsTask();
        handle.IsCompleted.Should().BeFalse();
        gate.Release(1, 0);

        (await handle.WaitAsync(s_patience)).Should().Be(FullModeOutcome.Reserved);
        gate.Depth.Should().Be(1, "the room freed was reserved for the waiting publish");
    }

    [Fact]
    public async Task Handle_StillFullAfterThePublishTimeout_FailsWithQueueFull_AndCountsARejection()
    {
        var gate = FullGate();
        var policy = new WaitFullMode<int>(gate, "orders", TimeSpan.FromSeconds(5), _time, _totals);

        var handle = policy.HandleAsync(Publish(), CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromSeconds(4));
        handle.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromSeconds(1));

        var error = (await FluentActions.Awaiting(() => handle.WaitAsync(s_patience)).Should().ThrowAsync<QueueFullException>()).Which;
        error.InnerException.Should().BeOfType<TimeoutException>();
        error.Message.Should().Contain(nameof(LoadLevelingOptions.PublishTimeout));
        _totals.Rejected.Should().Be(1);
        gate.Waiting.Should().Be(0);
    }

    [Fact]
    public async Task Handle_CancelledByTheCaller_ThrowsWithTheCallersToken_AndLeavesNoWaiter()
    {
        var gate = FullGate();
        var policy = new WaitFullMode<int>(gate, "orders", TimeSpan.FromSeconds(5), _time, _totals);
        using var cancel = new CancellationTokenSource();

        var handle = policy.HandleAsync(Publish(), cancel.Token).AsTask();
        await cancel.CancelAsync();

        (await FluentActions.Awaiting(() => handle.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cancel.Token);
        _totals.Rejected.Should().Be(0);
        gate.Waiting.Should().Be(0);
    }

    private static CapacityGate FullGate()
    {
        var gate = new CapacityGate(1);
        gate.TryEnter(1).Should().BeTrue();
        return gate;
    }

    private static PendingPublish<int> Publish() => new(new Message<int>(1), 0);
}
