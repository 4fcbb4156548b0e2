using System.Diagnostics;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>A message published again is stamped anew, as the in-memory stores do, whether or not a trace is active.</summary>
public sealed class RepublishStampTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Republish_OfAReceivedMessage_IsStampedWithTheTimeOfTheNewPublish(bool traced)
    {
        await using var scope = new StoreScope("republish");
        var store = scope.Create();
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "m-1")).AsTask().WaitAsync(s_patience);
        var first = (await RabbitMqQueueStoreTests.ReceiveAllAsync(store, 1))[0];
        first.Message.EnqueuedAt.Should().NotBe(default);

        using (var trace = traced ? new Activity("caller").Start() : null)
        {
            await Producer.Create(store).PublishAsync(first.Message).AsTask().WaitAsync(s_patience);
        }

        (await store.AckAsync(first.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
        var again = (await RabbitMqQueueStoreTests.ReceiveAllAsync(store, 1))[0];

        again.Message.Id.Should().Be("m-1");
        again.Message.Headers.ContainsKey("traceparent").Should().Be(traced);
        again.Message.EnqueuedAt.Should().BeAfter(first.Message.EnqueuedAt, "a publish is stamped by the store that accepts it");
    }
}
