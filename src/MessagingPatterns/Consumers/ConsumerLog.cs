using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Consumers;

/// <summary>The consumer runtime's log messages (source-generated, so disabled levels cost nothing).</summary>
internal static partial class ConsumerLog
{
    [LoggerMessage(1, LogLevel.Warning, "Handler failed for message {MessageId} of queue {Queue} on delivery {DeliveryCount}.")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string queue, string messageId, int deliveryCount);

    [LoggerMessage(2, LogLevel.Error, "Message {MessageId} of queue {Queue} was dead-lettered after {DeliveryCount} deliveries: {Reason}")]
    public static partial void DeadLettered(ILogger logger, string queue, string messageId, int deliveryCount, string reason);

    [LoggerMessage(3, LogLevel.Warning, "The lease on message {MessageId} of queue {Queue} (delivery {DeliveryCount}) had ended before it was settled; another delivery owns the message now.")]
    public static partial void LeaseLost(ILogger logger, string queue, string messageId, int deliveryCount);

    [LoggerMessage(4, LogLevel.Error, "Receiving from queue {Queue} failed; retrying.")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(5, LogLevel.Error, "Settling message {MessageId} of queue {Queue} failed; it returns when its lease ends.")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string queue, string messageId);

    [LoggerMessage(6, LogLevel.Warning, "Renewing leases of queue {Queue} failed.")]
    public static partial void RenewFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(7, LogLevel.Warning, "Handlers of queue {Queue} were still running after the shutdown timeout of {Timeout}; cancelling them.")]
    public static partial void DrainTimedOut(ILogger logger, string queue, TimeSpan timeout);

    [LoggerMessage(8, LogLevel.Error, "Handling message {MessageId} of queue {Queue} failed outside the handler; releasing it.")]
    public static partial void WorkerFaulted(ILogger logger, Exception exception, string queue, string messageId);

    [LoggerMessage(9, LogLevel.Warning, "A worker of queue {Queue} stopped: its store was disposed.")]
    public static partial void WorkerStoppedStoreDisposed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(10, LogLevel.Error, "The handler of message {MessageId} of queue {Queue} was still running {Limit} after it started, past its timeout and grace period: its worker is abandoned and replaced, and the message comes back when its lease ends.")]
    public static partial void HandlerAbandoned(ILogger logger, string queue, string messageId, TimeSpan limit);

    [LoggerMessage(11, LogLevel.Warning, "Handlers of queue {Queue} were still running {Wait} after their tokens were cancelled; the stop returns and their messages come back when their leases end.")]
    public static partial void HandlersLeftRunning(ILogger logger, string queue, TimeSpan wait);

    [LoggerMessage(12, LogLevel.Warning, "The handler of message {MessageId} of queue {Queue} returned normally after its handler timeout of {Timeout} cancelled its token; the attempt counts as failed and is retried, since the handler may have stopped half way.")]
    public static partial void ReturnedAfterTimeout(ILogger logger, string queue, string messageId, TimeSpan timeout);

    [LoggerMessage(13, LogLevel.Information, "Consumer pool of queue {Queue} started: {Concurrency} workers, prefetch {Prefetch}, lease {Lease}, up to {MaxDeliveryAttempts} deliveries per message.")]
    public static partial void PoolStarted(ILogger logger, string queue, int concurrency, int prefetch, TimeSpan lease, int maxDeliveryAttempts);

    [LoggerMessage(14, LogLevel.Information, "Consumer pool of queue {Queue} stopped.")]
    public static partial void PoolStopped(ILogger logger, string queue);

    [LoggerMessage(20, LogLevel.Debug, "A worker of queue {Queue} handed back {Count} prefetched messages it had not started (from priority {Priority}) to take a more urgent one first.")]
    public static partial void HandedBack(ILogger logger, string queue, int count, int priority);

    [LoggerMessage(21, LogLevel.Warning, "Handing back prefetched messages of queue {Queue} failed; releasing them instead.")]
    public static partial void HandBackFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(23, LogLevel.Warning, "Workers of queue {Queue} could not ask the store whether a more urgent message is ready, so they start their prefetched messages in the order received (priority inversion is possible until the check works again). Logged at most once per {Interval}.")]
    public static partial void PreemptionCheckFailed(ILogger logger, Exception exception, string queue, TimeSpan interval);

    [LoggerMessage(22, LogLevel.Warning, "Workers of queue {Queue} prefetch {PrefetchCount} messages each from a store ({StoreType}) that cannot hand back unstarted ones: a message of higher priority published meanwhile waits until they are handled (priority inversion). Where priorities matter, set PrefetchCount to 1, or consume a store that implements IPreemptibleStore (the in-memory priority stores, SQLite) directly: a decorator such as WithPacing or WithLoadLeveling does not pass the hand-back on.")]
    public static partial void PrefetchCanInvert(ILogger logger, string queue, int prefetchCount, string storeType);
}
