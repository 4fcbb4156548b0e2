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
        ValueTask enqueue;
        try
        {
            enqueue = _store.EnqueueAsync(MessagingTracing.Inject(message, activity), cancellationToken);
        }
        catch (Exception ex)
        {
            Sent(1, startedAt, activity, ex);
            throw;
        }

        if (enqueue.IsCompletedSuccessfully)
        {
            Sent(1, startedAt, activity, null);
            return ValueTask.CompletedTask;
        }

        return AwaitPublishAsync(enqueue, 1, startedAt, activity);
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
        ValueTask enqueue;
        try
        {
            enqueue = _store.EnqueueBatchAsync(MessagingTracing.Inject(messages, activity), cancellationToken);
        }
        catch (Exception ex)
        {
            Sent(messages.Count, startedAt, activity, ex);
            throw;
        }

        return AwaitPublishAsync(enqueue, messages.Count, startedAt, activity);
    }

    private async ValueTask AwaitPublishAsync(ValueTask enqueue, int count, long startedAt, Activity? activity)
    {
        try
        {
            await enqueue.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Sent(count, startedAt, activity, ex);
            throw;
        }

        Sent(count, startedAt, activity, null);
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
