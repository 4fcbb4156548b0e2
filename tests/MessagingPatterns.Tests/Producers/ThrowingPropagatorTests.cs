using System.Diagnostics;
using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.Producers;

/// <summary>
/// A publish whose trace propagator throws. In a collection of its own, run alone: the propagator is process-wide, and
/// another test publishing while it is replaced would fail.
/// </summary>
[Collection(nameof(ThrowingPropagatorTests))]
[CollectionDefinition(nameof(ThrowingPropagatorTests), DisableParallelization = true)]
public sealed class ThrowingPropagatorTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publish_WhenThePropagatorThrows_EndsTheSendSpanAndCountsTheFailedSend(bool batch)
    {
        var queue = $"propagator-{Guid.NewGuid():N}"[..24];
        await using var store = MessageStore.CreateInMemory<int>(queue);
        using var spans = new SpanRecorder(queue);
        using var metrics = new MetricsRecorder(queue);
        var original = DistributedContextPropagator.Current;
        DistributedContextPropagator.Current = new ThrowingPropagator();
        try
        {
            var producer = Producer.Create(store);
            Func<Task> publish = batch
                ? () => producer.PublishBatchAsync([new Message<int>(1), new Message<int>(2)]).AsTask()
                : () => producer.PublishAsync(new Message<int>(1)).AsTask();

            await publish.Should().ThrowAsync<PropagatorFailedException>();
        }
        finally
        {
            DistributedContextPropagator.Current = original;
        }

        var send = spans.Send.Should().ContainSingle("the send span ends even when the context cannot be written").Subject;
        send.Status.Should().Be(ActivityStatusCode.Error);
        send.GetTagItem("error.type").Should().Be(typeof(PropagatorFailedException).FullName);
        metrics.Sum("messaging.client.sent.messages", ("error.type", typeof(PropagatorFailedException).FullName))
            .Should().Be(batch ? 2 : 1);
        (await store.GetStatisticsAsync().AsTask().Within()).Ready.Should().Be(0, "nothing was enqueued");
    }

    private sealed class PropagatorFailedException() : Exception("the propagator failed");

    private sealed class ThrowingPropagator : DistributedContextPropagator
    {
        public override IReadOnlyCollection<string> Fields => ["traceparent"];

        public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
            throw new PropagatorFailedException();

        public override void ExtractTraceIdAndState(
            object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState) =>
            throw new PropagatorFailedException();

        public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
            throw new PropagatorFailedException();
    }
}
