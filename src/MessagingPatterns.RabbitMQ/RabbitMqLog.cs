using Microsoft.Extensions.Logging;

namespace MessagingPatterns.RabbitMQ;

/// <summary>The store's log messages. None of them carries the connection URI, which may hold a password.</summary>
internal static partial class RabbitMqLog
{
    [LoggerMessage(1, LogLevel.Information, "Queue {Queue} connected to RabbitMQ at {Endpoint}.")]
    public static partial void Connected(ILogger logger, string queue, string endpoint);

    [LoggerMessage(2, LogLevel.Warning, "Queue {Queue} lost its RabbitMQ publishing connection ({Reason}); publishes waiting for a confirm fail. Reconnecting.")]
    public static partial void ConnectionLost(ILogger logger, string queue, string reason);

    [LoggerMessage(3, LogLevel.Information, "Queue {Queue} reconnected to RabbitMQ.")]
    public static partial void Recovered(ILogger logger, string queue);

    [LoggerMessage(4, LogLevel.Warning, "Queue {Queue}: the consumer channel closed ({Reason}); unsettled leases ended and the broker will deliver their messages again. Consuming again. A channel closed for exceeding consumer_timeout means a lease outlived the broker's limit.")]
    public static partial void ConsumerChannelClosed(ILogger logger, string queue, string reason);

    [LoggerMessage(5, LogLevel.Error, "Queue {Queue}: message {MessageId} could not be read and was dead-lettered.")]
    public static partial void Unreadable(ILogger logger, Exception exception, string queue, string messageId);

    [LoggerMessage(6, LogLevel.Warning, "Queue {Queue}: returning message {MessageId} to the queue failed; the broker will deliver it again when its channel closes.")]
    public static partial void RequeueFailed(ILogger logger, Exception exception, string queue, string messageId);

    [LoggerMessage(7, LogLevel.Warning, "Queue {Queue}: opening the consumer channel failed; trying again.")]
    public static partial void ConsumerRestartFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(8, LogLevel.Warning, "Queue {Queue}: settling a delivery failed; it goes back to the queue.")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(9, LogLevel.Error, "Queue {Queue}: message {MessageId} was copied to the dead-letter queue, but its original went back to the queue before it was acknowledged, and the copy could not be taken out: it is now in both.")]
    public static partial void DeadLetterCopyNotRemoved(ILogger logger, Exception? exception, string queue, string messageId);

    [LoggerMessage(10, LogLevel.Warning, "Queue {Queue}: message {MessageId} was dead-lettered, but the broker did not confirm it processed the original's ack before the channel closed; if it did not, the message is delivered again beside its dead-letter copy.")]
    public static partial void DeadLetterAckUnconfirmed(ILogger logger, Exception exception, string queue, string messageId);
}
