using RabbitMQ.Client;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// Browse, purge and redrive over the dead-letter queue. AMQP cannot read a queue without taking its
/// messages, so each walks the queue with <c>basic.get</c> on the store's admin channel, settles the
/// entries it acts on, and gives back every other one with a single <c>basic.nack(requeue)</c>, which
/// puts them back in their order; if the process dies meanwhile, the channel's close gives them back the
/// same way. A redriven entry is published to the queue and confirmed before it is acknowledged here, so
/// a failure in between leaves a duplicate, never a loss.
/// </summary>
/// <remarks>
/// Each call reads the whole dead-letter queue (one round trip per entry): these are operator tools, for
/// dead-letter queues of thousands rather than millions. Two calls at the same moment from different
/// processes each see only the entries the other is not holding.
/// </remarks>
internal sealed class DeadLetterQueue(RabbitMqConnection connection)
{
    /// <summary>
    /// The entries after <paramref name="afterKey"/> that <paramref name="matches"/> selects, up to
    /// <paramref name="pageSize"/>, and whether another selected entry follows them.
    /// </summary>
    public Task<(List<StoredMessage> Items, bool More)> BrowseAsync(Func<StoredMessage, bool> matches, string? afterKey, int pageSize, CancellationToken cancellationToken) =>
        connection.WithAdminChannelAsync(
            async (channel, token) =>
            {
                var items = new List<StoredMessage>();
                var more = false;
                await WalkAsync(
                    channel,
                    entry =>
                    {
                        if (afterKey is not null && string.CompareOrdinal(entry.DeadLetterKey ?? string.Empty, afterKey) <= 0 || !matches(entry))
                        {
                            return Step.Keep;
                        }

                        if (items.Count == pageSize)
                        {
                            more = true;
                            return Step.Stop;
                        }

                        items.Add(entry);
                        return Step.Keep;
                    },
                    static (_, _) => Task.CompletedTask,
                    token).ConfigureAwait(false);
                return (items, more);
            },
            cancellationToken);

    /// <summary>Deletes the selected entries for good; returns how many.</summary>
    public Task<long> PurgeAsync(Func<StoredMessage, bool> matches, CancellationToken cancellationToken) =>
        connection.WithAdminChannelAsync(
            (channel, token) => WalkAsync(channel, entry => matches(entry) ? Step.Take : Step.Keep, static (_, _) => Task.CompletedTask, token),
            cancellationToken);

    /// <summary>Deletes the one entry with this dead-letter key and message id; returns 1, or 0 when it is not there.</summary>
    public Task<long> RemoveAsync(string deadLetterKey, string messageId, CancellationToken cancellationToken) =>
        PurgeAsync(entry => entry.DeadLetterKey == deadLetterKey && entry.Id == messageId, cancellationToken);

    /// <summary>
    /// Moves the selected entries back to the queue with a fresh delivery count, <paramref name="batchSize"/>
    /// confirmed publishes at a time; entries dead-lettered after <paramref name="startedAtTicks"/> stay.
    /// </summary>
    public Task<long> RedriveAsync(Func<StoredMessage, bool> matches, int batchSize, long startedAtTicks, CancellationToken cancellationToken) =>
        connection.WithAdminChannelAsync(
            (channel, token) => WalkAsync(
                channel,
                entry => entry.DeadLetteredAtTicks <= startedAtTicks && matches(entry) ? Step.Take : Step.Keep,
                async (taken, innerToken) =>
                {
                    // A fresh delivery count; the priority, headers and first enqueue time kept.
                    var publishes = new Task[taken.Count];
                    for (var i = 0; i < taken.Count; i++)
                    {
                        var fresh = taken[i].WithDeliveries(0);
                        publishes[i] = channel.BasicPublishAsync(string.Empty, connection.Topology.Queue, mandatory: true, fresh.ToProperties(), fresh.Body, innerToken).AsTask();
                    }

                    await Task.WhenAll(publishes).ConfigureAwait(false);
                },
                token,
                batchSize),
            cancellationToken);

    private enum Step
    {
        Keep,
        Take,
        Stop,
    }

    /// <summary>
    /// Reads the queue to its end (or until <paramref name="decide"/> says stop). Entries to take are handed
    /// to <paramref name="act"/> in batches and acknowledged once it returns; kept ones are given back at the end.
    /// </summary>
    private async Task<long> WalkAsync(IChannel channel, Func<StoredMessage, Step> decide, Func<List<StoredMessage>, CancellationToken, Task> act, CancellationToken cancellationToken, int batchSize = 256)
    {
        long taken = 0;
        ulong lastKept = 0;
        var batch = new List<StoredMessage>(batchSize);
        var batchTags = new List<ulong>(batchSize);
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
                var step = decide(entry);
                if (step != Step.Take)
                {
                    lastKept = result.DeliveryTag;
                    if (step == Step.Stop)
                    {
                        break;
                    }

                    continue;
                }

                batch.Add(entry);
                batchTags.Add(result.DeliveryTag);
                if (batch.Count == batchSize)
                {
                    taken += await SettleBatchAsync(channel, batch, batchTags, act, cancellationToken).ConfigureAwait(false);
                }
            }

            taken += await SettleBatchAsync(channel, batch, batchTags, act, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Gives back every entry still held, up to the highest one held (which must not have been
            // acknowledged: the broker closes the channel on an unknown tag).
            var highestHeld = Math.Max(lastKept, batchTags.Count > 0 ? batchTags[^1] : 0);
            if (highestHeld != 0 && channel.IsOpen)
            {
                await channel.BasicNackAsync(highestHeld, multiple: true, requeue: true, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return taken;
    }

    private static async Task<int> SettleBatchAsync(IChannel channel, List<StoredMessage> batch, List<ulong> tags, Func<List<StoredMessage>, CancellationToken, Task> act, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        await act(batch, cancellationToken).ConfigureAwait(false);
        foreach (var tag in tags)
        {
            await channel.BasicAckAsync(tag, multiple: false, CancellationToken.None).ConfigureAwait(false);
        }

        var count = batch.Count;
        batch.Clear();
        tags.Clear();
        return count;
    }
}
