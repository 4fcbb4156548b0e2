using RabbitMQ.Client;


namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// Browse and redrive over the dead-letter queue. AMQP cannot read a queue without taking messages, so
/// both take messages with <c>basic.get</c> on the store's admin channel and give back every one they do not
/// move with one <c>basic.nack(requeue)</c>, which puts them back at the head in their order; if the process
/// dies meanwhile, closing the channel gives them back just the same. A redriven message is published to
/// the queue and confirmed before it is acknowledged in the dead-letter queue, so a failure in between
/// leaves a duplicate, never a loss.
/// </summary>
internal sealed class DeadLetterQueue(RabbitMqConnection connection)
{
    /// <summary>Reads up to <paramref name="maxCount"/> entries from the head, leaving them all in place.</summary>
    public Task<List<StoredMessage>> BrowseAsync(int maxCount, CancellationToken cancellationToken) =>
        connection.WithAdminChannelAsync((channel, token) => BrowseAsync(channel, maxCount, token), cancellationToken);

    /// <summary>Moves every entry whose id is in <paramref name="ids"/> back to the queue; returns how many moved.</summary>
    public Task<int> RedriveAsync(IReadOnlySet<string> ids, CancellationToken cancellationToken) =>
        connection.WithAdminChannelAsync((channel, token) => RedriveAsync(channel, ids, token), cancellationToken);

    private async Task<List<StoredMessage>> BrowseAsync(IChannel channel, int maxCount, CancellationToken cancellationToken)
    {
        var entries = new List<StoredMessage>();
        ulong lastTag = 0;
        try
        {
            while (entries.Count < maxCount)
            {
                var result = await channel.BasicGetAsync(connection.Topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false);
                if (result is null)
                {
                    break;
                }

                lastTag = result.DeliveryTag;
                entries.Add(StoredMessage.Copy(result.BasicProperties, result.Body));
            }
        }
        finally
        {
            if (lastTag != 0 && channel.IsOpen)
            {
                await channel.BasicNackAsync(lastTag, multiple: true, requeue: true, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return entries;
    }

    private async Task<int> RedriveAsync(IChannel channel, IReadOnlySet<string> ids, CancellationToken cancellationToken)
    {
        var moved = 0;
        // Entries kept stay unacknowledged on this channel until the end, so the loop walks the queue once.
        ulong lastTag = 0;
        try
        {
            while (true)
            {
                var result = await channel.BasicGetAsync(connection.Topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false);
                if (result is null)
                {
                    break;
                }

                var entry = StoredMessage.Copy(result.BasicProperties, result.Body);
                if (!ids.Contains(entry.Id))
                {
                    lastTag = result.DeliveryTag;
                    continue;
                }

                // A fresh delivery count, the priority, headers and first enqueue time kept.
                var fresh = entry.WithDeliveries(0);
                await channel.BasicPublishAsync(string.Empty, connection.Topology.Queue, mandatory: true, fresh.ToProperties(), fresh.Body, cancellationToken).ConfigureAwait(false);
                await channel.BasicAckAsync(result.DeliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
                moved++;
            }
        }
        finally
        {
            if (lastTag != 0 && channel.IsOpen)
            {
                // Gives back every entry kept, up to the last one (the tag itself must not be acknowledged
                // already: the broker closes the channel on an unknown tag).
                await channel.BasicNackAsync(lastTag, multiple: true, requeue: true, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return moved;
    }
}
