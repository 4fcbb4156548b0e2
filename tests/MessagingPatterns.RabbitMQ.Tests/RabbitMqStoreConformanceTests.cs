using MessagingPatterns.Testing;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>The store contract against the real broker; each queue name of a test maps to broker queues no other test uses.</summary>
public sealed class RabbitMqStoreConformanceTests : MessageStoreConformanceTests
{
    private readonly Dictionary<string, string> _queues = new(StringComparer.Ordinal);

    // Every ack of a lone consumer is a round trip to the broker.
    protected override int MessagesPerConcurrentProducer => 500;

    /// <summary>
    /// Not strict FIFO under redelivery: a message returned to the queue is published again, behind its
    /// level. Not "durable across reopen" in the kit's sense, although messages are durable on the broker:
    /// the kit expects a lease to outlive its store until it expires, while the broker takes a delivery back
    /// the moment its channel closes (the crash, cut and restart tests cover durability). A receive may take
    /// fewer than are ready: the broker pushes deliveries ahead asynchronously, and a receive returns what has
    /// arrived once one has. Statistics are not exact: a message on its way between the broker and the store
    /// (pushed ahead, or being returned to the queue) is briefly counted nowhere, and AMQP does not report
    /// other consumers' unacknowledged messages. AMQP does not say how old the oldest message in a queue is
    /// without handing it over, so the statistics do not report it.
    /// </summary>
    protected override StoreCapabilities Capabilities { get; } = new()
    {
        StrictFifoUnderRedelivery = false,
        ReceivesEveryReadyMessage = false,
        ExactStatistics = false,
        PriorityLevels = 10,
        ReportsOldestReadyAge = false,
    };

    protected override string CapabilitiesTableRow => "RabbitMQ";

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        RabbitMqBroker.RequireOrSkip();
        if (!_queues.TryGetValue(name, out var queue))
        {
            queue = RabbitMqBroker.UniqueName(name);
            _queues.Add(name, queue);
        }

        return RabbitMqMessageStore.Create<ConformanceMessage>(queue, RabbitMqBroker.Options(), timeProvider: timeProvider);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var queue in _queues.Values)
        {
            await RabbitMqBroker.DeleteQueuesAsync(queue);
        }
    }
}
