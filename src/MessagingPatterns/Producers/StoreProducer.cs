using System.Diagnostics;
using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Producers;

/// <summary>The producer over a store: validates, publishes, counts.</summary>
internal sealed class StoreProducer<TMessage> : IProducer<TMessage>
{
    private readonly IMessageStore<TMessage> _store;
    private readonly QueueTelemetry _telemetry;

    /// <param name="store">The store to publish to.</param>
    /// <param name="instruments">The instruments publishes are counted on; the process-wide ones when <see langword="null"/>.</param>
    public StoreProducer(IMessageStore<TMessage> store, MessagingInstruments? instruments = null)
    {
        _store = store;
        _telemetry = QueueTelemetry.For(store, instruments);
    }

    public string QueueName => _store.Name;

    public ValueTask PublishAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var startedAt = _telemetry.StartOperation();
        var activity = MessagingTracing.StartSend(_telemetry, 1, message);
        // Inside the try: the propagator is user-replaceable, and a throwing one must still end the span and count the failure.
        Message<TMessage> traced;
        ValueTask enqueue;
        try
        {
            traced = MessagingTracing.Inject(message, activity);
            enqueue = _store.EnqueueAsync(traced, cancellationToken);
        }
        catch (Exception ex)
        {
            Sent(1, startedAt, activity, ex);
            throw;
        }

        if (enqueue.IsCompletedSuccessfully)
        {
            message.StampedAs(traced);
            Sent(1, startedAt, activity, null);
            return ValueTask.CompletedTask;
        }

        return AwaitPublishAsync(enqueue, [message], [traced], startedAt, activity);
    }

    public ValueTask PublishBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        var startedAt = _telemetry.StartOperation();
        var activity = MessagingTracing.StartSend<TMessage>(_telemetry, messages.Count, null);
        IReadOnlyList<Message<TMessage>> traced;
        ValueTask enqueue;
        try
        {
            traced = MessagingTracing.Inject(messages, activity);
            enqueue = _store.EnqueueBatchAsync(traced, cancellationToken);
        }
        catch (Exception ex)
        {
            Sent(messages.Count, startedAt, activity, ex);
            throw;
        }

        return AwaitPublishAsync(enqueue, messages, traced, startedAt, activity);
    }

    /// <summary>Stamps the caller's messages as the store stamped the traced copies it was given (when there are copies).</summary>
    private static void Stamp(IReadOnlyList<Message<TMessage>> messages, IReadOnlyList<Message<TMessage>> traced)
    {
        if (ReferenceEquals(messages, traced))
        {
            return;
        }

        for (var i = 0; i < messages.Count; i++)
        {
            messages[i].StampedAs(traced[i]);
        }
    }

    private async ValueTask AwaitPublishAsync(
        ValueTask enqueue, IReadOnlyList<Message<TMessage>> messages, IReadOnlyList<Message<TMessage>> traced, long startedAt, Activity? activity)
    {
        try
        {
            await enqueue.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Sent(messages.Count, startedAt, activity, ex);
            throw;
        }

        Stamp(messages, traced);
        Sent(messages.Count, startedAt, activity, null);
    }

    /// <summary>Counts and times a publish that ended, and ends its span.</summary>
    private void Sent(int count, long startedAt, Activity? activity, Exception? error)
    {
        _telemetry.Sent(count, startedAt, error);
        if (activity is not null)
        {
            if (error is not null)
            {
                MessagingTracing.Failed(activity, error);
            }

            activity.Dispose();
        }
    }
}
