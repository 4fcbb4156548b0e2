using MessagingPatterns.LoadLeveling;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The capacity gate on its own: room by count and by bytes, and waiting publishes served in arrival order.</summary>
public sealed class CapacityGateTests
{
    private static readonly TimeSpan s_patience = Pump.Patience;

    [Fact]
    public void TryEnter_TakesRoomUpToTheCapacity_ThenRefuses()
    {
        var gate = new CapacityGate(3);

        gate.TryEnter(2).Should().BeTrue();
        gate.TryEnter(1).Should().BeTrue();
        gate.TryEnter(1).Should().BeFalse();

        gate.Depth.Should().Be(3, "a refused attempt takes its increment back");
    }

    [Fact]
    public void ReleaseAndUnreserve_GiveTheRoomBack()
    {
        var gate = new CapacityGate(2);
        gate.TryEnter(2).Should().BeTrue();

        gate.Release(1, 0);
        gate.Unreserve(1, 0);

        gate.Depth.Should().Be(0);
        gate.TryEnter(2).Should().BeTrue();
        gate.Admitted.Should().Be(3);
        gate.Released.Should().Be(1);
    }

    [Fact]
    public async Task WaitForRoom_ServesWaitersInArrivalOrder()
    {
        var gate = new CapacityGate(1);
        gate.TryEnter(1).Should().BeTrue();
        var first = gate.WaitForRoomAsync(1, 0, CancellationToken.None);
        var second = gate.WaitForRoomAsync(1, 0, CancellationToken.None);
        gate.Waiting.Should().Be(2);

        gate.Release(1, 0);
        await first.WaitAsync(s_patience);
        second.IsCompleted.Should().BeFalse("the room went to the first waiter, reserved for it");
        gate.Depth.Should().Be(1);

        gate.Release(1, 0);
        await second.WaitAsync(s_patience);
        gate.Waiting.Should().Be(0);
    }

    [Fact]
    public async Task WaitForRoom_ASmallPublishDoesNotOvertakeALargerOneWaitingBeforeIt()
    {
        var gate = new CapacityGate(3);
        gate.TryEnter(3).Should().BeTrue();
        var large = gate.WaitForRoomAsync(2, 0, CancellationToken.None);
        var small = gate.WaitForRoomAsync(1, 0, CancellationToken.None);

        gate.Release(1, 0);
        small.IsCompleted.Should().BeFalse("the room for one is kept for the batch of two waiting first");
        lock (gate.SyncRoot)
        {
            gate.TryReserveInOrder(1, 0).Should().BeFalse("a new publish cannot overtake waiting ones");
        }

        gate.TryEnter(1).Should().BeFalse("the fast path is off while publishes wait");

        gate.Release(1, 0);
        await large.WaitAsync(s_patience);
        small.IsCompleted.Should().BeFalse();
        gate.Release(1, 0);
        await small.WaitAsync(s_patience);
    }

    [Fact]
    public async Task WaitForRoom_Cancelled_LeavesTheQueue_AndTheNextWaiterIsServed()
    {
        var gate = new CapacityGate(2);
        gate.TryEnter(2).Should().BeTrue();
        using var cancel = new CancellationTokenSource();
        var large = gate.WaitForRoomAsync(2, 0, cancel.Token);
        var small = gate.WaitForRoomAsync(1, 0, CancellationToken.None);
        gate.Release(1, 0);
        small.IsCompleted.Should().BeFalse();

        await cancel.CancelAsync();

        (await FluentActions.Awaiting(() => large.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cancel.Token);
        await small.WaitAsync(s_patience);
        gate.Waiting.Should().Be(0);
        gate.Depth.Should().Be(2, "the cancelled waiter took no room");
    }

    [Fact]
    public async Task ByteBound_RefusesWhatWouldExceedIt_AndASettleGivesTheBytesBack()
    {
        var gate = new CapacityGate(10, capacityBytes: 100);
        gate.IsSlowPath.Should().BeTrue("bytes are counted under the lock");
        lock (gate.SyncRoot)
        {
            gate.TryReserve(1, 60).Should().BeTrue();
            gate.TryReserve(1, 50).Should().BeFalse();
        }

        var waiter = gate.WaitForRoomAsync(1, 50, CancellationToken.None);
        gate.Release(1, 60);

        await waiter.WaitAsync(s_patience);
        gate.Bytes.Should().Be(50);
        gate.Depth.Should().Be(1);
    }

    [Fact]
    public async Task Recounted_MessagesTheStoreHoldsBesideTheCounters_TakeRoom_AndARecountDownServesWaiters()
    {
        var gate = new CapacityGate(4);
        gate.Recounted(3);
        gate.Depth.Should().Be(3);
        gate.TryEnter(2).Should().BeFalse();
        gate.TryEnter(1).Should().BeTrue();
        var waiter = gate.WaitForRoomAsync(2, 0, CancellationToken.None);

        gate.Recounted(1);

        await waiter.WaitAsync(s_patience);
        gate.Depth.Should().Be(4);
    }

    [Fact]
    public async Task Close_FailsWaitingAndLaterWaits()
    {
        var gate = new CapacityGate(1);
        gate.TryEnter(1).Should().BeTrue();
        var waiter = gate.WaitForRoomAsync(1, 0, CancellationToken.None);

        gate.Close(this);

        await FluentActions.Awaiting(() => waiter.WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => gate.WaitForRoomAsync(1, 0, CancellationToken.None).WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public void Listener_KeepsTheSlowPath_AndHearsOfFreedRoom()
    {
        var gate = new CapacityGate(5);
        var listener = new Listener { Keeps = true };
        gate.Listen(listener);

        gate.TryEnter(1).Should().BeFalse("the listener keeps publishes on the slow path");
        lock (gate.SyncRoot)
        {
            gate.TryReserve(1, 0).Should().BeTrue();
        }

        gate.Release(1, 0);
        listener.RoomFreedCalls.Should().Be(1);

        lock (gate.SyncRoot)
        {
            listener.Keeps = false;
            gate.UpdateSlowPath();
        }

        gate.TryEnter(1).Should().BeTrue();
        gate.Release(1, 0);
        listener.RoomFreedCalls.Should().Be(1, "on the fast path a settle takes no lock and calls nobody");
    }

    private sealed class Listener : ICapacityGateListener
    {
        public bool Keeps { get; set; }

        public int RoomFreedCalls { get; private set; }

        public bool KeepsSlowPath => Keeps;

        public void RoomFreed() => RoomFreedCalls++;
    }
}
