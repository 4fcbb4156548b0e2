using System.Collections.Concurrent;
using System.Diagnostics;
using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Tests.Support;

/// <summary>Records the library's spans of one queue, as a tracing exporter would receive them.</summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public SpanRecorder(string queue)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MessagingMetrics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("messaging.destination.name") as string == queue)
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Send => [.. _stopped.Where(a => a.Kind == ActivityKind.Producer)];

    /// <summary>The <c>process</c> spans, in the order they ended.</summary>
    public IReadOnlyList<Activity> Process => [.. _stopped.Where(a => a.Kind == ActivityKind.Consumer)];

    /// <summary>
    /// Asserts one <c>send {queue}</c> producer span and <paramref name="deliveries"/> <c>process {queue}</c> consumer
    /// spans, each a child of the send span and linked to it, all in its trace.
    /// </summary>
    public void ShouldShowOneTraceFromPublishToHandler(string queue, string system, int deliveries)
    {
        var send = Send.Should().ContainSingle().Subject;
        send.OperationName.Should().Be($"send {queue}");
        send.GetTagItem("messaging.system").Should().Be(system);
        send.GetTagItem("messaging.operation.type").Should().Be("send");

        Process.Should().HaveCount(deliveries);
        Process.Should().AllSatisfy(process =>
        {
            process.OperationName.Should().Be($"process {queue}");
            process.GetTagItem("messaging.system").Should().Be(system);
            process.GetTagItem("messaging.operation.type").Should().Be("process");
            process.TraceId.Should().Be(send.TraceId, "the handler's span continues the publisher's trace");
            process.ParentSpanId.Should().Be(send.SpanId);
            process.Links.Should().ContainSingle().Which.Context.SpanId.Should().Be(send.SpanId);
        });
        Process.Select(p => p.GetTagItem("messagingpatterns.delivery_count")).Should().Equal(Enumerable.Range(1, deliveries).Cast<object>());
    }

    public void Dispose() => _listener.Dispose();
}
