using System.Diagnostics;
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

    [Fact]
    public async Task Publish_InATraceWithBaggage_CarriesTheTraceContextButNotTheBaggage()
    {
        await using var store = MessageStore.CreateInMemory<int>($"baggage-{Guid.NewGuid():N}"[..20]);
        using var request = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).AddBaggage("user.email", "alice@example.com").Start();

        await Producer.Create(store).PublishAsync(new Message<int>(1)).Within();

        var delivery = await ReceiveOneAsync(store);
        delivery.Message.Headers.Should().ContainKey("traceparent").WhoseValue.Should().Contain(request.TraceId.ToHexString());
        delivery.Message.Headers.Keys.Should().BeSubsetOf(["traceparent", "tracestate"], "baggage may carry personal data, and durable stores keep headers");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publish_StampsTheCallersMessage_WhetherOrNotATraceIsActive(bool traced)
    {
        await using var store = MessageStore.CreateInMemory<int>($"stamp-{Guid.NewGuid():N}"[..20]);
        var producer = Producer.Create(store);
        using var request = traced ? new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start() : null;
        var single = new Message<int>(1);
        var batch = new[] { new Message<int>(2), new Message<int>(3) };

        await producer.PublishAsync(single).Within();
        await producer.PublishBatchAsync(batch).Within();
        await producer.PublishAsync(single).Within();

        single.EnqueuedAt.Should().NotBe(default, "an in-memory store stamps the message it is given");
        batch.Should().OnlyContain(m => m.EnqueuedAt != default);
        var deliveries = new List<Delivery<int>>();
        for (var i = 0; i < 4; i++)
        {
            deliveries.Add(await ReceiveOneAsync(store));
        }

        deliveries.Select(d => d.Message.Body).Should().Equal(1, 2, 3, 1);
        deliveries.Should().OnlyContain(d => d.Message.EnqueuedAt != default, "a message published again is stamped again");
        deliveries[0].Message.Id.Should().Be(deliveries[3].Message.Id).And.Be(single.Id);
    }

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within()).Should().Be(1);
        return buffer[0];
    }
}
