using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Sqlite;

/// <summary>The store's log messages (source-generated, so disabled levels cost nothing). None carries the connection string.</summary>
internal static partial class SqliteLog
{
    [LoggerMessage(1, LogLevel.Warning, "SQLite queue '{Queue}': a transaction of {Count} operations failed and was rolled back; each runs again in a transaction of its own, so only the failing one's caller gets the error")]
    public static partial void TransactionFailed(ILogger logger, string queue, int count, Exception exception);

    [LoggerMessage(2, LogLevel.Error, "SQLite queue '{Queue}': a stored message could not be deserialized ({MessageId}, failed read {FailedReads} of {MaxFailedReads}); hidden for its lease, dead-lettered at the last")]
    public static partial void Unreadable(ILogger logger, string queue, string messageId, int failedReads, int maxFailedReads, Exception exception);

    [LoggerMessage(3, LogLevel.Debug, "SQLite queue '{Queue}': an operation failed on its own and its caller gets the error")]
    public static partial void OperationFailed(ILogger logger, string queue, Exception exception);

    [LoggerMessage(4, LogLevel.Debug, "SQLite queue '{Queue}': the rollback after a failure found no open transaction")]
    public static partial void RollbackFoundNoTransaction(ILogger logger, string queue, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "SQLite queue '{Queue}' opened; its writer thread commits up to {MaxOperations} operations per transaction")]
    public static partial void Opened(ILogger logger, string queue, int maxOperations);

    [LoggerMessage(6, LogLevel.Warning, "SQLite queue '{Queue}': a dead letter's body could not be deserialized ({MessageId}); it is listed with its stored bytes")]
    public static partial void DeadLetterUnreadable(ILogger logger, string queue, string messageId, Exception exception);
}
