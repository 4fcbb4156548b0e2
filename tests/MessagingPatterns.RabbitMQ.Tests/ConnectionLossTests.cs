namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// The broker cuts every connection while messages flow: publishers and consumers recover by themselves,
/// nothing accepted is lost, and no publish is reported accepted without the broker's confirm. The cut
/// hits every client of the shared broker, so this class runs alone.
/// </summary>
[Collection(BrokerFaults.Name)]
public sealed class ConnectionLossTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task ConnectionsClosedByTheBroker_WhileMessagesFlow_EveryAcceptedMessageIsDelivered()
    {
        await using var scope = new StoreScope("cut");
        var producer = scope.Create();
        var consumer = scope.Create(prefetch: 32);
        await using var flow = new MessageFlow(producer, consumer, count: 3_000);

        await flow.WaitForAcceptedAsync(600, s_patience);
        await RabbitMqBroker.CtlAsync("close_all_connections \"test cut\"");
        await flow.WaitForAcceptedAsync(flow.Ledger.Accepted + 600, s_patience);
        await RabbitMqBroker.CtlAsync("close_all_connections \"test cut\"");
        await flow.WaitForAllDeliveredAsync(s_patience);

        flow.Ledger.Lost.Should().BeEmpty(flow.Ledger.ToString());
        flow.Ledger.Unexpected.Should().BeEmpty();
        flow.Ledger.Accepted.Should().Be(3_000);
    }

    [SkippableFact]
    public async Task LeaseHeldAcrossACut_EndsWithTheChannel_ItsLateAckReturnsFalse_AndTheMessageComesBackCounted()
    {
        await using var scope = new StoreScope("cutlease");
        var store = scope.Create();
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "held"));
        var held = await RabbitMqQueueStoreTests.ReceiveAsync(store, 1);

        await RabbitMqBroker.CtlAsync("close_all_connections \"test cut\"");
        var again = await RabbitMqQueueStoreTests.ReceiveAsync(store, 1);

        (await store.AckAsync(held[0].Lease)).Should().BeFalse("the broker took the delivery back when the channel closed");
        again[0].Message.Id.Should().Be("held");
        again[0].DeliveryCount.Should().Be(2);
        (await store.AckAsync(again[0].Lease)).Should().BeTrue();
    }
}
