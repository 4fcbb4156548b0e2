using System.Diagnostics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The library's spans, by the OpenTelemetry messaging conventions: a <c>send {queue}</c> producer span per publish,
/// whose W3C trace context (<c>traceparent</c>, <c>tracestate</c>) is written into the message's headers, and a
/// <c>process {queue}</c> consumer span per handled delivery, a child of (and linked to) that context, so one trace
/// runs from publish to handler on every store that keeps headers, across redeliveries.
/// </summary>
internal static class MessagingTracing
{
    private static ActivitySource Source => MessagingMetrics.ActivitySource;

    /// <summary>
    /// Starts the span of one publish of <paramref name="count"/> messages (<paramref name="single"/> when it is one), or
    /// returns <see langword="null"/> when nobody listens. The message's id is read only for a span: a generated id is
    /// made on first read, which a publish nobody traces should not pay for.
    /// </summary>
    public static Activity? StartSend<TMessage>(QueueTelemetry queue, int count, Message<TMessage>? single)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var caller = Activity.Current;
        var activity = Source.StartActivity("send " + queue.Queue, ActivityKind.Producer);

        // The publish may end after the producer's synchronous part returns: left current, the span would stay the
        // caller's ambient activity after the publish returned. It ends (Dispose) where the publish ends.
        Activity.Current = caller;
        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, queue, MessagingAttributes.Send);
            if (count == 1)
            {
                activity.SetTag(MessagingAttributes.MessageId, single?.Id);
            }
            else
            {
                activity.SetTag("messaging.batch.message_count", count);
            }
        }

        return activity;
    }

    /// <summary>
    /// The message with the trace context of <paramref name="send"/> (or of the caller's current activity) in its
    /// headers, or the message itself when there is no context to carry. A copy: the caller's message is not changed.
    /// Only <c>traceparent</c> and <c>tracestate</c> are written: the propagator's <c>baggage</c> often carries user or
    /// tenant ids, and a durable store would keep them (in dead letters too) where no redaction hook sees them.
    /// </summary>
    public static Message<TMessage> Inject<TMessage>(Message<TMessage> message, Activity? send)
    {
        var context = send ?? Activity.Current;
        if (context is null)
        {
            return message;
        }

        var headers = new Dictionary<string, string>(message.Headers, StringComparer.Ordinal);
        DistributedContextPropagator.Current.Inject(context, headers, static (carrier, key, value) =>
        {
            if (carrier is Dictionary<string, string> target && value is not null && IsTraceContext(key))
            {
                target[key] = value;
            }
        });
        return message.WithHeaders(headers);
    }

    /// <summary>Every message of a batch with the trace context of <paramref name="send"/> in its headers.</summary>
    public static IReadOnlyList<Message<TMessage>> Inject<TMessage>(IReadOnlyList<Message<TMessage>> messages, Activity? send)
    {
        if ((send ?? Activity.Current) is null)
        {
            return messages;
        }

        var traced = new Message<TMessage>[messages.Count];
        for (var i = 0; i < traced.Length; i++)
        {
            // A null entry goes on as it is, for the store to refuse with its usual exception.
            traced[i] = messages[i] is { } message ? Inject(message, send) : null!;
        }

        return traced;
    }

    /// <summary>
    /// Starts the span of one handled delivery, continuing the trace its headers carry, or returns
    /// <see langword="null"/> (at no cost) when nobody listens.
    /// </summary>
    public static Activity? StartProcess<TMessage>(QueueTelemetry queue, Message<TMessage> message, int deliveryCount)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        Activity? activity;
        if (TryExtract(message.Headers, out var sent))
        {
            // A child, so the trace reads as one from publish to handler; the link is what the conventions require.
            activity = Source.StartActivity(ActivityKind.Consumer, sent, links: [new ActivityLink(sent)], name: "process " + queue.Queue);
        }
        else
        {
            activity = Source.StartActivity("process " + queue.Queue, ActivityKind.Consumer);
        }

        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, queue, MessagingAttributes.Process);
            activity.SetTag(MessagingAttributes.MessageId, message.Id);
            activity.SetTag(MessagingAttributes.Priority, message.Priority);
            activity.SetTag(MessagingAttributes.DeliveryCount, deliveryCount);
        }

        return activity;
    }

    /// <summary>
    /// Marks a span failed with the exception's type. Not its message: it may carry personal data or secrets, and
    /// the dead-letter reason and the logs hold it.
    /// </summary>
    public static void Failed(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        var errorType = MessagingAttributes.ErrorTypeOf(exception);
        activity.SetStatus(ActivityStatusCode.Error, errorType);
        activity.SetTag(MessagingAttributes.ErrorType, errorType);
    }

    private static bool IsTraceContext(string key) =>
        string.Equals(key, "traceparent", StringComparison.OrdinalIgnoreCase) || string.Equals(key, "tracestate", StringComparison.OrdinalIgnoreCase);

    private static bool TryExtract(IReadOnlyDictionary<string, string> headers, out ActivityContext context)
    {
        context = default;
        if (headers.Count == 0)
        {
            return false;
        }

        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = null;
            if (carrier is IReadOnlyDictionary<string, string> source && source.TryGetValue(name, out var found))
            {
                value = found;
            }
        }, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out context);
    }

    private static void SetCommonTags(Activity activity, QueueTelemetry queue, string operation)
    {
        activity.SetTag(MessagingAttributes.System, queue.System);
        activity.SetTag(MessagingAttributes.DestinationName, queue.Queue);
        activity.SetTag(MessagingAttributes.OperationName, operation);
        activity.SetTag(MessagingAttributes.OperationType, operation);
    }
}
