using MessagingPatterns.Diagnostics;

namespace MessagingPatterns.Producers;

/// <summary>The producer over a store: validates, publishes, counts.</summary>
internal sealed class StoreProducer<TMessage>(IMessageStore<TMessage> store) : IProducer<TMessage>
{
    public string QueueName => store.Name;

    public ValueTask PublishAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var enqueue = store.EnqueueAsync(message, cancellationToken);
        if (enqueue.IsCompletedSuccessfully)
        {
            MessagingMetrics.Published(store.Name, message.Priority);
            return ValueTask.CompletedTask;
        }

        return AwaitPublishAsync(enqueue, message.Priority, 1);
    }

    public ValueTask PublishBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        return AwaitPublishAsync(store.EnqueueBatchAsync(messages, cancellationToken), messages[0].Priority, messages.Count);
    }

    private async ValueTask AwaitPublishAsync(ValueTask enqueue, int priority, int count)
    {
        await enqueue.ConfigureAwait(false);
        MessagingMetrics.Published(store.Name, priority, count);
    }
}
