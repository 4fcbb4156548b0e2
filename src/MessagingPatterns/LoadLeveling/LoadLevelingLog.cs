using Microsoft.Extensions.Logging;

namespace MessagingPatterns.LoadLeveling;

/// <summary>The load-leveling buffer's log messages (source-generated, so disabled levels cost nothing).</summary>
internal static partial class LoadLevelingLog
{
    [LoggerMessage(101, LogLevel.Warning, "Moving message {MessageId} of queue {Queue} back from the overflow store failed (attempt {Attempt}); trying again shortly.")]
    public static partial void MoveFailed(ILogger logger, Exception exception, string queue, string messageId, int attempt);

    [LoggerMessage(102, LogLevel.Error, "Message {MessageId} of queue {Queue} was dead-lettered in the overflow store: {Reason}")]
    public static partial void OverflowDeadLettered(ILogger logger, string queue, string messageId, string reason);

    [LoggerMessage(103, LogLevel.Warning, "Message {MessageId} of queue {Queue} is in the queue's store, but acknowledging it in the overflow store failed; its copy there is removed when it comes back, not moved again.")]
    public static partial void OverflowAckFailed(ILogger logger, Exception? exception, string queue, string messageId);

    [LoggerMessage(104, LogLevel.Warning, "Counting the overflow store of queue {Queue} failed; the last count stands until the next try.")]
    public static partial void OverflowCountFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(105, LogLevel.Warning, "Counting the messages of queue {Queue} in its store failed; the buffer's depth keeps the last count until a count succeeds.")]
    public static partial void StoreCountFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(106, LogLevel.Warning, "Counting what an earlier run left in the overflow store of queue {Queue} failed; those messages move back only as later spills make room.")]
    public static partial void OverflowLeftoversCountFailed(ILogger logger, Exception exception, string queue);
}
