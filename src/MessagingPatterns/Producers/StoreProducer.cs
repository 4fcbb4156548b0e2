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

        return AwaitPublishBatchAsync(store.EnqueueBatchAsync(messages, cancellationToken), messages);
    }

    private async ValueTask AwaitPublishBatchAsync(ValueTask enqueue, IReadOnlyList<Message<TMessage>> messages)
    {
        await enqueue.ConfigureAwait(false);

        // Counted under each message's own priority, one call per run of equal priorities.
        var start = 0;
        for (var i = 1; i <= messages.Count; i++)
        {
            if (i == messages.Count || messages[i].Priority != messages[start].Priority)
            {
                MessagingMetrics.Published(store.Name, messages[start].Priority, i - start);
                start = i;
            }
        }
    }

    private async ValueTask AwaitPublishAsync(ValueTask enqueue, int priority, int count)
    {
        await enqueue.ConfigureAwait(false);
        MessagingMetrics.Published(store.Name, priority, count);
    }
}
