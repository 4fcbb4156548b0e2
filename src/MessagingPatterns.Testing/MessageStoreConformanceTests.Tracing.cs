using System.Collections.Concurrent;
using System.Diagnostics;
using FluentAssertions;
using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>The trace across the store: the publisher's trace context must survive the store, redeliveries included.</summary>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>
    /// Checks tracing: a message published through a producer and handled by a consumer pool is one trace, from
    /// the <c>send {queue}</c> span to the <c>process {queue}</c> span of each delivery, across a redelivery. The
    /// store's part is to keep the <c>traceparent</c> header the producer writes.
    /// </summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Trace_FromPublishToHandler_IsOneTrace_AcrossARedelivery()
    {
        var store = CreateStore();
        var messageId = $"traced-{Guid.NewGuid():N}";
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MessagingMetrics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                // Other tests publish at the same time: only this message's spans count.
                if (activity.GetTagItem("messaging.message.id") as string == messageId)
                {
                    stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = 0;
        var consumer = new FailingOnceConsumer(() => Interlocked.Increment(ref attempts) == 1, handled);

        // The pool keeps real time for its own timers; the store keeps the suite's clock (zero delays need no advance).
        var pool = new ConsumerWorkerPool<ConformanceMessage>(
            store,
            EmptyScopes.Instance,
            _ => consumer,
            new ConsumerOptions { Concurrency = 1, RetryCount = 0, RedeliveryDelay = TimeSpan.Zero, RenewLeases = false });
        await using (pool)
        {
            await Producer.Create(store).PublishAsync(new Message<ConformanceMessage>(new(1, "traced"), messageId, 0, new Dictionary<string, string> { ["tenant"] = "acme" }));
            await pool.StartAsync(CancellationToken.None);
            await handled.Task.WaitAsync(Patience);
            await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);
        }

        var send = stopped.Where(a => a.Kind == ActivityKind.Producer).Should().ContainSingle("one publish").Subject;
        send.OperationName.Should().Be($"send {store.Name}");
        var process = stopped.Where(a => a.Kind == ActivityKind.Consumer).ToList();
        process.Should().HaveCount(2, "the failed delivery and the redelivery are each a process span");
        process.Should().AllSatisfy(span =>
        {
            span.OperationName.Should().Be($"process {store.Name}");
            span.TraceId.Should().Be(send.TraceId, "the store kept the publisher's trace context");
            span.ParentSpanId.Should().Be(send.SpanId);
            span.Links.Should().ContainSingle().Which.Context.SpanId.Should().Be(send.SpanId);
        });
        process.Select(p => p.GetTagItem("messagingpatterns.delivery_count")).Should().Equal(1, 2);
        consumer.Headers.Should().Contain("tenant", "acme", "the trace context is added to the message's own headers, not in their place");
    }

    /// <summary>A handler that fails while <c>fail()</c> says so, then signals that it handled the message.</summary>
    private sealed class FailingOnceConsumer(Func<bool> fail, TaskCompletionSource handled) : IConsumer<ConformanceMessage>
    {
        public IReadOnlyDictionary<string, string> Headers { get; private set; } = new Dictionary<string, string>();

        public Task ConsumeAsync(MessageContext<ConformanceMessage> context, CancellationToken cancellationToken)
        {
            Headers = context.Message.Headers;
            if (fail())
            {
                throw new InvalidOperationException("The first delivery fails, so the message is delivered again.");
            }

            handled.TrySetResult();
            return Task.CompletedTask;
        }
    }

    /// <summary>Scopes for a pool whose handler is given directly and resolves nothing.</summary>
    private sealed class EmptyScopes : IServiceScopeFactory, IServiceScope, IServiceProvider
    {
        public static EmptyScopes Instance { get; } = new();

        public IServiceProvider ServiceProvider => this;

        public IServiceScope CreateScope() => this;

        public object? GetService(Type serviceType) => null;

        public void Dispose()
        {
        }
    }
}
