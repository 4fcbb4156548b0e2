using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Consumers;

/// <summary>
/// Decides what happens to a delivery once its handler is done, and tells the store: ack a success, retry a
/// failure after <see cref="ConsumerOptions.RedeliveryDelay"/>, dead-letter it on the last of
/// <see cref="ConsumerOptions.MaxDeliveryAttempts"/>, follow the handler's own choice (retry after a delay,
/// dead-letter now), and give back untouched what a shutdown cancelled. The one place the retry and
/// dead-letter rules live. A store that cannot settle is logged: the lease ends and the message comes back.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class DeliverySettler<TMessage>
{
    private readonly IMessageStore<TMessage> _store;
    private readonly int _maxDeliveryAttempts;
    private readonly TimeSpan _redeliveryDelay;
    private readonly ILogger _logger;
    private readonly QueueTelemetry _telemetry;
    private readonly CancellationToken _shutdown;
    private readonly Redaction? _redaction;

    /// <param name="store">The store that leased the deliveries.</param>
    /// <param name="options">The pool's options: attempts allowed and the redelivery delay.</param>
    /// <param name="logger">Where failures, dead letters and lost leases are logged.</param>
    /// <param name="telemetry">Where settlements, dead letters and lost leases are counted and timed.</param>
    /// <param name="shutdown">Cancelled when a stop's drain period ends: a failure after that is the stop's doing.</param>
    /// <param name="redaction">Rewrites every dead-letter reason before it is stored, or <see langword="null"/>.</param>
    public DeliverySettler(
        IMessageStore<TMessage> store, ConsumerOptions options, ILogger logger, QueueTelemetry telemetry, CancellationToken shutdown, Redaction? redaction = null)
    {
        _store = store;
        _maxDeliveryAttempts = options.MaxDeliveryAttempts;
        _redeliveryDelay = options.RedeliveryDelay;
        _logger = logger;
        _telemetry = telemetry;
        _shutdown = shutdown;
        _redaction = redaction;
    }

    private string QueueName => _store.Name;

    /// <summary>Whether a delivery is over the attempts allowed and goes to the dead-letter store without running its handler.</summary>
    public bool IsOverAttempts(in Delivery<TMessage> delivery) => delivery.DeliveryCount > _maxDeliveryAttempts;

    /// <summary>Settles a delivery after its handler: <paramref name="failure"/> is the last attempt's, or <see langword="null"/>.</summary>
    public ValueTask SettleAsync(MessageContext<TMessage> context, Delivery<TMessage> delivery, Exception? failure)
    {
        if (failure is not null || context.Settlement != Settlement.Ack)
        {
            return SettleOtherwiseAsync(context, delivery, failure);
        }

        // The common case, an ack the store completes at once, without a state machine.
        var startedAt = _telemetry.StartOperation();
        ValueTask<bool> acking;
        try
        {
            acking = _store.AckAsync(delivery.Lease, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _telemetry.Settled(MessagingAttributes.Ack, startedAt, MessagingAttributes.ErrorTypeOf(ex));
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
            return ValueTask.CompletedTask;
        }

        if (acking.IsCompletedSuccessfully)
        {
            Acked(delivery, acking.Result, startedAt);
            return ValueTask.CompletedTask;
        }

        return AwaitAckAsync(acking, delivery, startedAt);
    }

    /// <summary>
    /// Dead-letters a delivery over the attempts allowed without running the handler. Counts rise when a
    /// lease is granted, so this is a message whose earlier deliveries were never settled: a handler that
    /// crashes its process every time would otherwise be run forever.
    /// </summary>
    public async ValueTask DeadLetterUnsettledAsync(Delivery<TMessage> delivery)
    {
        try
        {
            await DeadLetterAsync(
                delivery,
                $"Delivered {delivery.DeliveryCount} times, over the {_maxDeliveryAttempts} allowed, without being settled (its consumer stopped while handling it, for example).").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
        }
    }

    /// <summary>Releases deliveries no handler started, for other consumers to take at once.</summary>
    public async ValueTask ReleaseUnstartedAsync(Delivery<TMessage>[] unstarted)
    {
        foreach (var delivery in unstarted)
        {
            try
            {
                await ReleaseAsync(delivery, TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The others are still released; this one comes back when its lease ends.
                ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
            }
        }
    }

    /// <summary>
    /// Best effort after a failure outside the handler and its settlement (a logger or a tracing listener
    /// that threw): the delivery goes back for redelivery and the worker goes on.
    /// </summary>
    public async ValueTask ReleaseAfterFaultAsync(Delivery<TMessage> delivery, Exception fault)
    {
        Exception? releaseFailure = null;
        try
        {
            // A delivery settled before the fault reports false: nothing to undo.
            await _store.ReleaseAsync(delivery.Lease, _redeliveryDelay, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            releaseFailure = ex;
        }

        try
        {
            ConsumerLog.WorkerFaulted(_logger, fault, QueueName, delivery.Message.Id);
            if (releaseFailure is not null)
            {
                ConsumerLog.SettleFailed(_logger, releaseFailure, QueueName, delivery.Message.Id);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A logger that throws must not end the worker either.
        }
    }

    private async ValueTask AwaitAckAsync(ValueTask<bool> acking, Delivery<TMessage> delivery, long startedAt)
    {
        bool acked;
        try
        {
            acked = await acking.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _telemetry.Settled(MessagingAttributes.Ack, startedAt, MessagingAttributes.ErrorTypeOf(ex));
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
            return;
        }

        Acked(delivery, acked, startedAt);
    }

    private void Acked(Delivery<TMessage> delivery, bool acked, long startedAt)
    {
        _telemetry.Settled(MessagingAttributes.Ack, startedAt, acked ? null : MessagingAttributes.LeaseLost);
        if (!acked)
        {
            LeaseLost(delivery);
        }
    }

    /// <summary>Every settlement but a plain ack: retry, dead-letter, a failed or cancelled attempt.</summary>
    private async ValueTask SettleOtherwiseAsync(MessageContext<TMessage> context, Delivery<TMessage> delivery, Exception? failure)
    {
        var lastAttempt = delivery.DeliveryCount >= _maxDeliveryAttempts;
        try
        {
            if (failure is null)
            {
                await SettleAsAskedAsync(context, delivery, lastAttempt).ConfigureAwait(false);
                return;
            }

            if (_shutdown.IsCancellationRequested)
            {
                // Cancelled by shutdown, not failed by the handler, whatever it threw (handlers may wrap the
                // cancellation in their own exception): give it back untouched.
                await ReleaseAsync(delivery, TimeSpan.Zero).ConfigureAwait(false);
                return;
            }

            ConsumerLog.HandlerFailed(_logger, failure, QueueName, delivery.Message.Id, delivery.DeliveryCount);
            if (lastAttempt)
            {
                await DeadLetterAsync(delivery, $"{failure.GetType().FullName}: {failure.Message}").ConfigureAwait(false);
            }
            else
            {
                await ReleaseAsync(delivery, _redeliveryDelay).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The store could not settle (disposed, connection lost): the lease ends and the message comes back.
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
        }
    }

    /// <summary>The settlement a handler that returned normally asked for through its context.</summary>
    private async ValueTask SettleAsAskedAsync(MessageContext<TMessage> context, Delivery<TMessage> delivery, bool lastAttempt)
    {
        switch (context.Settlement)
        {
            case Settlement.DeadLetter:
                await DeadLetterAsync(delivery, context.DeadLetterReason!).ConfigureAwait(false);
                return;
            case Settlement.Retry when lastAttempt:
                await DeadLetterAsync(delivery, $"The handler asked for a retry on the last of {_maxDeliveryAttempts} delivery attempts.").ConfigureAwait(false);
                return;
            case Settlement.Retry:
                await ReleaseAsync(delivery, context.RetryDelay).ConfigureAwait(false);
                return;
            default:
                await AwaitAckAsync(_store.AckAsync(delivery.Lease, CancellationToken.None), delivery, _telemetry.StartOperation()).ConfigureAwait(false);
                return;
        }
    }

    private async ValueTask ReleaseAsync(Delivery<TMessage> delivery, TimeSpan delay)
    {
        var startedAt = _telemetry.StartOperation();
        bool released;
        try
        {
            released = await _store.ReleaseAsync(delivery.Lease, delay, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _telemetry.Settled(MessagingAttributes.Release, startedAt, MessagingAttributes.ErrorTypeOf(ex));
            throw;
        }

        _telemetry.Settled(MessagingAttributes.Release, startedAt, released ? null : MessagingAttributes.LeaseLost);
        if (!released)
        {
            LeaseLost(delivery);
        }
    }

    private async ValueTask DeadLetterAsync(Delivery<TMessage> delivery, string reason)
    {
        reason = _redaction?.Text(reason) ?? reason;
        var startedAt = _telemetry.StartOperation();
        bool deadLettered;
        try
        {
            deadLettered = await _store.DeadLetterAsync(delivery.Lease, reason, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _telemetry.Settled(MessagingAttributes.DeadLetter, startedAt, MessagingAttributes.ErrorTypeOf(ex));
            throw;
        }

        _telemetry.Settled(MessagingAttributes.DeadLetter, startedAt, deadLettered ? null : MessagingAttributes.LeaseLost);
        if (deadLettered)
        {
            _telemetry.DeadLettered(delivery.Message.Priority);
            ConsumerLog.DeadLettered(_logger, QueueName, delivery.Message.Id, delivery.DeliveryCount, reason);
        }
        else
        {
            LeaseLost(delivery);
        }
    }

    private void LeaseLost(Delivery<TMessage> delivery)
    {
        _telemetry.LeaseLost();
        ConsumerLog.LeaseLost(_logger, QueueName, delivery.Message.Id, delivery.DeliveryCount);
    }
}
