using MessagingPatterns.Conformance;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>The store contract against the real broker; each store gets queues no other test uses.</summary>
public sealed class RabbitMqStoreConformanceTests : MessageStoreConformanceTests
{
    private readonly List<string> _queues = [];

    // Every ack of a lone consumer is a round trip to the broker.
    protected override int MessagesPerConcurrentProducer => 500;

    protected override IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider)
    {
        RabbitMqBroker.RequireOrSkip();
        var queue = RabbitMqBroker.UniqueName(name);
        _queues.Add(queue);
        return RabbitMqMessageStore.Create<ConformanceMessage>(queue, RabbitMqBroker.Options(), timeProvider: timeProvider);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var queue in _queues)
        {
            await RabbitMqBroker.DeleteQueuesAsync(queue);
        }
    }
}
