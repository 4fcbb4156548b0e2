using RabbitMQ.Client;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// The broker objects behind one store: a durable classic queue with <c>x-max-priority</c>, and a durable
/// dead-letter queue beside it, both on the default exchange (the routing key is the queue's name).
/// </summary>
/// <remarks>
/// Classic rather than quorum queues: the broker versions this store targets give quorum queues no
/// priorities, and priority is a pattern this library serves. Durable queues with persistent messages and
/// publisher confirms survive a broker restart on one node; replication is the broker's configuration.
/// </remarks>
internal sealed class RabbitMqTopology(string queue, int maxPriority)
{
    public const string DeadLetterSuffix = ".dead-letter";

    public string Queue { get; } = queue;

    public string DeadLetterQueue { get; } = queue + DeadLetterSuffix;

    public async Task DeclareAsync(IChannel channel, CancellationToken cancellationToken)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { ["x-queue-type"] = "classic" };
        if (maxPriority > 0)
        {
            arguments["x-max-priority"] = maxPriority;
        }

        await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(
            DeadLetterQueue,
            durable: true,
            exclusive: false,
            autoDelete: false,
            new Dictionary<string, object?>(StringComparer.Ordinal) { ["x-queue-type"] = "classic" },
            cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
