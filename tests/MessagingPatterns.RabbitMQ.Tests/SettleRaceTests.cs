using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A settle and the lease's own expiry (or a cancelled caller) meet on one delivery: whichever claims the
/// lease first must settle or return the message; none may leave it unacknowledged on the channel.
/// </summary>
public sealed class SettleRaceTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task AckRacingLeaseExpiry_LosesToTheExpiry_WhichReturnsTheMessage()
    {
        await using var scope = new StoreScope("settlerace");
        var time = new GatedTimeProvider(new FakeTimeProvider(DateTimeOffset.UtcNow));
        var store = scope.Create(time: time);
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "edge")).AsTask().WaitAsync(s_patience);
        var leased = await ReceiveAsync(store);

        // The expiry claims the lease and is held right there; the ack comes in that gap.
        time.Arm();
        var expiry = Task.Factory.StartNew(() => time.Inner.Advance(s_lease), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await time.Entered.WaitAsync(s_patience);
        var acked = await store.AckAsync(leased.Lease).AsTask().WaitAsync(s_patience);
        time.Open();
        await expiry.WaitAsync(s_patience);

        acked.Should().BeFalse("the expiry ended the lease first");
        var again = await ReceiveAsync(store);
        again.Message.Id.Should().Be("edge", "the expiry returns the message to the queue");
        again.DeliveryCount.Should().Be(2);
        (await store.AckAsync(again.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
    }

    [SkippableFact]
    public async Task AckWithACancelledToken_LeavesTheLeaseWhole_SoALaterAckStillRemovesTheMessage()
    {
        await using var scope = new StoreScope("settlecancel");
        var store = scope.Create();
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "cancelled")).AsTask().WaitAsync(s_patience);
        var leased = await ReceiveAsync(store);

        var cancelled = () => store.AckAsync(leased.Lease, new CancellationToken(canceled: true)).AsTask().WaitAsync(s_patience);

        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        (await store.AckAsync(leased.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue("a cancelled call changed nothing");
        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    private static async Task<Delivery<TestMessage>> ReceiveAsync(IMessageStore<TestMessage> store)
    {
        var buffer = new Delivery<TestMessage>[1];
        var count = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        count.Should().Be(1);
        return buffer[0];
    }
}
