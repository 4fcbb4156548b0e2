using Microsoft.Extensions.Logging;

namespace MessagingPatterns.HealthChecks;

/// <summary>What a queue's health check logs: the store failures an operator has to look into.</summary>
internal static partial class HealthCheckLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The store of queue '{Queue}' did not answer the health check within {Timeout}.")]
    public static partial void StoreTimedOut(ILogger logger, string queue, TimeSpan timeout);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The store of queue '{Queue}' failed the health check's statistics query.")]
    public static partial void StoreFailed(ILogger logger, Exception exception, string queue);
}
