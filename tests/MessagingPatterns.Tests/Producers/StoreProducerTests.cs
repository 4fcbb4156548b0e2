using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.Producers;

public sealed class StoreProducerTests
{
    [Fact]
    public async Task Publish_CountsSentMessages_UnderTheConventionalNameAndAttributes()
    {
        var queue = $"sent-{Guid.NewGuid():N}"[..20];
        using var metrics = new MetricsRecorder(queue);
        await using var store = MessageStore.CreateInMemory<int>(queue);
        var producer = Producer.Create(store);

        await producer.PublishAsync(new Message<int>(0));
        await producer.PublishBatchAsync([new(1, priority: 0), new(2, priority: 2), new(3, priority: 2)]);

        var sent = metrics.Of("messaging.client.sent.messages");
        sent.Sum(m => m.Value).Should().Be(4);
        sent.Should().AllSatisfy(m =>
        {
            m.Instrument.Unit.Should().Be("{message}");
            m.Tags.Should().Contain("messaging.system", "memory")
                .And.Contain("messaging.operation.name", "send")
                .And.Contain("messaging.operation.type", "send")
                .And.NotContainKey("error.type");
        });
    }

    [Fact]
    public async Task Publish_ThatFails_CountsTheAttempt_WithItsErrorType()
    {
        var queue = $"unsent-{Guid.NewGuid():N}"[..20];
        using var metrics = new MetricsRecorder(queue);
        await using var store = MessageStore.CreateInMemory<int>(queue);
        var producer = Producer.Create(store);
        await store.DisposeAsync();

        await FluentActions.Awaiting(() => producer.PublishAsync(new Message<int>(0)).AsTask()).Should().ThrowAsync<ObjectDisposedException>();

        metrics.Sum("messaging.client.sent.messages", ("error.type", typeof(ObjectDisposedException).FullName)).Should().Be(1);
        metrics.Of("messaging.client.operation.duration", ("messaging.operation.name", "send"), ("error.type", typeof(ObjectDisposedException).FullName))
            .Should().ContainSingle().Which.Instrument.Unit.Should().Be("s");
    }
}
