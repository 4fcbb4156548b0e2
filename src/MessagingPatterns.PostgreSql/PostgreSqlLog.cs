using Microsoft.Extensions.Logging;

namespace MessagingPatterns.PostgreSql;

/// <summary>The store's log messages. None carries the connection string.</summary>
internal static partial class PostgreSqlLog
{
    [LoggerMessage(1, LogLevel.Warning, "PostgreSQL queue '{Queue}': a transaction of {Count} operations failed; its callers get the error")]
    public static partial void TransactionFailed(ILogger logger, string queue, int count, Exception exception);

    // No exception: the listener is shared by stores with different Redact hooks, so its lines carry no message text.
    [LoggerMessage(2, LogLevel.Warning, "PostgreSQL channel '{Channel}': the wake-up listener lost its connection ({ErrorType}, SQLSTATE {SqlState}); receivers poll until it is back (retry in {Delay})")]
    public static partial void ListenerLost(ILogger logger, string channel, string errorType, string? sqlState, TimeSpan delay);

    [LoggerMessage(3, LogLevel.Information, "PostgreSQL channel '{Channel}': the wake-up listener is connected again")]
    public static partial void ListenerRestored(ILogger logger, string channel);

    [LoggerMessage(4, LogLevel.Error, "PostgreSQL queue '{Queue}': a stored message could not be deserialized ({MessageId}, failed read {FailedReads} of {MaxFailedReads}); hidden for its lease, dead-lettered at the last")]
    public static partial void Unreadable(ILogger logger, string queue, string messageId, int failedReads, int maxFailedReads, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "PostgreSQL queue '{Queue}': a cancelled receive could not hand back {Count} leased messages; they return when their lease ends, with a higher delivery count")]
    public static partial void UnleaseFailed(ILogger logger, string queue, int count, Exception exception);

    [LoggerMessage(6, LogLevel.Error, "PostgreSQL queue '{Queue}': an unreadable message could not be hidden or dead-lettered ({MessageId}); it returns when its lease ends")]
    public static partial void UnreadableSettleFailed(ILogger logger, string queue, string messageId, Exception exception);

    [LoggerMessage(7, LogLevel.Warning, "PostgreSQL queue '{Queue}': a dead letter's body could not be deserialized ({MessageId}); it is listed with its stored bytes")]
    public static partial void DeadLetterUnreadable(ILogger logger, string queue, string messageId, Exception exception);
}
