using MessagingPatterns.LoadLeveling;
using MessagingPatterns.LoadLeveling.FullModes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling.FullModes;

/// <summary>Spilling to an overflow store as its own policy, with a capacity gate and in-memory stores.</summary>
public sealed class SpillFullModeTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LoadLevelingTotals _totals = new("orders");
    private readonly IMessageStore<int> _overflow = MessageStore.CreateInMemory<int>("overflow");
    private readonly IMessageStore<int> _queue = MessageStore.CreateInMemory<int>("orders");
    private SpillFullMode<int>? _policy;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_policy is not null)
        {
            await _policy.DisposeAsync();
        }

        await _queue.DisposeAsync();
    }

    [Fact]
    public async Task Handle_PutsThePublishInTheOverflowStore_AndLaterPublishesGoBehindIt()
    {
        var gate = new CapacityGate(1);
        gate.TryEnter(1).Should().BeTrue();
        var policy = Start(gate);
        policy.TakesPublishFirst.Should().BeFalse("nothing waits in the overflow store yet");

        var outcome = await policy.HandleAsync(new PendingPublish<int>(new Message<int>(1, id: "spilled"), 0), CancellationToken.None).AsTask().WaitAsync(s_patience);

        outcome.Should().Be(FullModeOutcome.Done);
        policy.Count.Should().Be(1);
        policy.TakesPublishFirst.Should().BeTrue("a publish must not overtake a message waiting in the overflow store");
        gate.IsSlowPath.Should().BeTrue("settles must wake the mover");
        _totals.Overflowed.Should().Be(1);
        (await _overflow.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task FreedRoom_MovesTheSpilledMessagesBack_InOrder_AndTheCountReturnsToZero()
    {
        var gate = new CapacityGate(2);
        gate.TryEnter(2).Should().BeTrue();
        var policy = Start(gate);
        Message<int>[] batch = [new(1, id: "a"), new(2, id: "b")];
        await policy.HandleAsync(new PendingPublish<int>(batch, 0), CancellationToken.None).AsTask().WaitAsync(s_patience);

        gate.Release(2, 0);

        var buffer = new Delivery<int>[2];
        var received = 0;
        while (received < 2)
        {
            received += await _queue.ReceiveAsync(buffer.AsMemory(received), Pump.Lease).AsTask().WaitAsync(s_patience);
        }

        buffer.Select(d => d.Message.Id).Should().Equal("a", "b");
        await Until(() => policy.Count == 0);
        await Until(() => !gate.IsSlowPath);
        policy.TakesPublishFirst.Should().BeFalse();
        gate.Depth.Should().Be(2, "the moved messages took the room they were moved into");
    }

    [Fact]
    public async Task Start_CountsWhatTheOverflowStoreKeptFromAnEarlierRun_AndMovesItFirst()
    {
        await _overflow.EnqueueAsync(new Message<int>(1, id: "left-over"));
        var gate = new CapacityGate(5);

        Start(gate);

        var buffer = new Delivery<int>[1];
        (await _queue.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("left-over");
        buffer[0].Message.Headers.Should().Contain(LoadLevelingHeaders.MovedFromOverflow, "true");
    }

    private SpillFullMode<int> Start(CapacityGate gate)
    {
        _policy = new SpillFullMode<int>(
            _overflow, _queue, gate, new MessageSizer<int>("orders", null, null), _totals, null, _time, NullLogger.Instance);
        gate.Listen(new Listener(_policy));
        _policy.Start(Task.CompletedTask);
        return _policy;
    }

    /// <summary>Waits for the mover's last bookkeeping, which follows the copy it delivered.</summary>
    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_patience;
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline);
            await Task.Delay(1);
        }
    }

    private sealed class Listener(SpillFullMode<int> policy) : ICapacityGateListener
    {
        public bool KeepsSlowPath => policy.KeepsSlowPath;

        public void RoomFreed() => policy.RoomFreed();
    }
}
