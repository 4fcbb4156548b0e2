using Microsoft.Extensions.Logging;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// The broker closes only the store's consumer channel (as <c>consumer_timeout</c> or an unknown delivery
/// tag does) while the connection stays up: the store consumes again by itself, and the leases of the dead
/// channel end.
/// </summary>
public sealed class ConsumerChannelRestartTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5); // never ends on its own here: a closing channel ends it

    [SkippableFact]
    public async Task ConsumerChannelClosedByTheBroker_ConsumesAgainByItself_AndItsLeaseEnds()
    {
        await using var scope = new StoreScope("chclose");
        var store = scope.Create();
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "held")).AsTask().WaitAsync(s_patience);
        var held = await ReceiveAsync(store);

        await RabbitMqBroker.CloseConsumerChannelsAsync(scope.Name);
        var again = await ReceiveAsync(store);
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(2), "after")).AsTask().WaitAsync(s_patience);
        var after = await ReceiveAsync(store);

        again.Message.Id.Should().Be("held", "the broker took the delivery back when it closed the channel");
        again.DeliveryCount.Should().Be(2);
        (await store.AckAsync(held.Lease).AsTask().WaitAsync(s_patience)).Should().BeFalse("that lease ended with its channel");
        after.Message.Id.Should().Be("after");
        (await store.AckAsync(again.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
        (await store.AckAsync(after.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [SkippableFact]
    public async Task ConsumerChannelClosed_CountsTheLeasedMessage_ButNotThoseOnlySentAhead()
    {
        await using var scope = new StoreScope("chahead");
        var store = scope.Create(prefetch: 4);
        await store.EnqueueBatchAsync([.. Enumerable.Range(1, 4).Select(i => new Message<TestMessage>(new TestMessage(i), $"m-{i}"))]).AsTask().WaitAsync(s_patience);
        var held = await ReceiveAsync(store); // the broker sends all four ahead; one is leased

        await RabbitMqBroker.CloseConsumerChannelsAsync(scope.Name);
        var again = new List<Delivery<TestMessage>>();
        while (again.Count < 4)
        {
            again.Add(await ReceiveAsync(store));
        }

        again.Select(d => (d.Message.Id, d.DeliveryCount)).Should().BeEquivalentTo(
            Enumerable.Range(1, 4).Select(i => ($"m-{i}", $"m-{i}" == held.Message.Id ? 2 : 1)),
            "only the leased message lost a lease; the others were only sent ahead");
        foreach (var delivery in again)
        {
            (await store.AckAsync(delivery.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
        }
    }

    [SkippableFact]
    public async Task ConsumerChannelClosedByTheBroker_LogsItsReplyTextThroughTheRedactHook()
    {
        await using var scope = new StoreScope("chredact");
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var store = scope.Create(loggerFactory: loggerFactory, redact: text => text.Replace("delivery tag", "[redacted]", StringComparison.Ordinal));
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "held")).AsTask().WaitAsync(s_patience);
        await ReceiveAsync(store);

        // The broker closes the channel with "PRECONDITION_FAILED - unknown delivery tag 1000000".
        await RabbitMqBroker.CloseConsumerChannelsAsync(scope.Name);
        (await ReceiveAsync(store)).Message.Id.Should().Be("held", "the new channel's first delivery follows the closed channel's log line");

        logs.Lines.Should().Contain(line => line.Contains("the consumer channel closed (406 PRECONDITION_FAILED - unknown [redacted]", StringComparison.Ordinal));
        logs.Lines.Should().NotContain(line => line.Contains("delivery tag", StringComparison.Ordinal));
    }

    private static async Task<Delivery<TestMessage>> ReceiveAsync(IMessageStore<TestMessage> store)
    {
        var buffer = new Delivery<TestMessage>[1];
        var count = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        count.Should().Be(1);
        return buffer[0];
    }
}
