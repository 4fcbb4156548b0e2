using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The library's <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>,
/// both named <see cref="Name"/>, so OpenTelemetry (or any listener) sees them without the library depending on it.
/// </summary>
public static class MessagingMetrics
{
    /// <summary>The name of the meter and the activity source: <c>MessagingPatterns</c>.</summary>
    public const string Name = "MessagingPatterns";

    private static readonly Meter s_meter = new(Name);
    private static readonly Counter<long> s_published = s_meter.CreateCounter<long>("messaging.published", "{message}", "Messages accepted by a store.");
    private static readonly Counter<long> s_consumed = s_meter.CreateCounter<long>("messaging.consumed", "{message}", "Messages handled and acknowledged.");
    private static readonly Counter<long> s_failed = s_meter.CreateCounter<long>("messaging.failed", "{delivery}", "Deliveries whose handler failed.");
    private static readonly Counter<long> s_deadLettered = s_meter.CreateCounter<long>("messaging.dead_lettered", "{message}", "Messages moved to a dead-letter store.");
    private static readonly Counter<long> s_leaseLost = s_meter.CreateCounter<long>("messaging.lease_lost", "{delivery}", "Settlements refused because the lease had ended.");
    private static readonly Counter<long> s_handlerAbandoned = s_meter.CreateCounter<long>("messaging.handler.abandoned", "{attempt}", "Handler attempts given up on after running past their timeout and grace period; their messages come back when their leases end.");
    private static readonly Histogram<double> s_latency = s_meter.CreateHistogram<double>("messaging.latency", "ms", "Time from enqueue to handled.");
    private static readonly Histogram<double> s_handlerDuration = s_meter.CreateHistogram<double>("messaging.handler.duration", "ms", "Time spent handling one delivery.");

    /// <summary>The activity source each handled delivery is traced with (one <c>consume {queue}</c> activity per delivery).</summary>
    public static ActivitySource ActivitySource { get; } = new(Name);

    internal static bool IsLatencyEnabled => s_latency.Enabled || s_handlerDuration.Enabled;

    /// <summary>Starts the activity of one handled delivery, or returns <see langword="null"/> (at no cost) when nobody listens.</summary>
    internal static Activity? StartConsumeActivity<TMessage>(string queue, Message<TMessage> message, int deliveryCount)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = ActivitySource.StartActivity("consume " + queue, ActivityKind.Consumer);
        activity?.SetTag("messaging.destination.name", queue);
        activity?.SetTag("messaging.message.id", message.Id);
        activity?.SetTag("messaging.priority", message.Priority);
        activity?.SetTag("messaging.delivery_count", deliveryCount);
        return activity;
    }

    internal static void Published(string queue, int priority, int count = 1)
    {
        if (s_published.Enabled)
        {
            s_published.Add(count, Tags(queue, priority));
        }
    }

    internal static void Consumed(string queue, int priority)
    {
        if (s_consumed.Enabled)
        {
            s_consumed.Add(1, Tags(queue, priority));
        }
    }

    internal static void Failed(string queue, int priority)
    {
        if (s_failed.Enabled)
        {
            s_failed.Add(1, Tags(queue, priority));
        }
    }

    internal static void DeadLettered(string queue, int priority)
    {
        if (s_deadLettered.Enabled)
        {
            s_deadLettered.Add(1, Tags(queue, priority));
        }
    }

    internal static void LeaseLost(string queue)
    {
        if (s_leaseLost.Enabled)
        {
            s_leaseLost.Add(1, new KeyValuePair<string, object?>("messaging.queue", queue));
        }
    }

    internal static void HandlerAbandoned(string queue)
    {
        if (s_handlerAbandoned.Enabled)
        {
            s_handlerAbandoned.Add(1, new KeyValuePair<string, object?>("messaging.queue", queue));
        }
    }

    internal static void RecordHandled<TMessage>(string queue, Message<TMessage> message, TimeSpan handlerDuration, DateTimeOffset now)
    {
        var tags = Tags(queue, message.Priority);
        s_handlerDuration.Record(handlerDuration.TotalMilliseconds, tags);
        if (message.EnqueuedAt != default)
        {
            s_latency.Record((now - message.EnqueuedAt).TotalMilliseconds, tags);
        }
    }

    private static TagList Tags(string queue, int priority) =>
        new() { { "messaging.queue", queue }, { "messaging.priority", priority } };
}
