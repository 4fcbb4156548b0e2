using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Consumers;

/// <summary>
/// One worker's loop: receive up to its prefetch, run each delivery's attempts, settle it, and repeat until the
/// pool stops receiving or gives up on the worker. Nothing a delivery does ends the loop: a fault outside the
/// handler releases that delivery and the loop goes on. A store that fails is retried; a disposed store ends it.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class WorkerLoop<TMessage>
{
    private static readonly TimeSpan s_receiveRetryDelay = TimeSpan.FromSeconds(1);

    private readonly IMessageStore<TMessage> _store;
    private readonly TimeSpan _leaseDuration;
    private readonly AttemptRunner<TMessage> _attempts;
    private readonly DeliverySettler<TMessage> _settler;
    private readonly PrefetchPreemption<TMessage>? _preemption;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly QueueTelemetry _telemetry;

    /// <param name="store">The store to receive from.</param>
    /// <param name="leaseDuration">The lease each receive asks for.</param>
    /// <param name="attempts">Runs a delivery's attempts.</param>
    /// <param name="settler">Settles a delivery after its attempts.</param>
    /// <param name="preemption">Hands back unstarted prefetched messages for a more urgent one; <see langword="null"/> for none.</param>
    /// <param name="time">The clock for handling time and the pause after a failed receive.</param>
    /// <param name="logger">Where a failed receive or a worker's end is logged.</param>
    /// <param name="telemetry">Where deliveries and their handling are counted, timed and traced.</param>
    public WorkerLoop(
        IMessageStore<TMessage> store,
        TimeSpan leaseDuration,
        AttemptRunner<TMessage> attempts,
        DeliverySettler<TMessage> settler,
        PrefetchPreemption<TMessage>? preemption,
        TimeProvider time,
        ILogger logger,
        QueueTelemetry telemetry)
    {
        _store = store;
        _leaseDuration = leaseDuration;
        _attempts = attempts;
        _settler = settler;
        _preemption = preemption;
        _time = time;
        _logger = logger;
        _telemetry = telemetry;
    }

    private string QueueName => _store.Name;

    /// <summary>Runs <paramref name="worker"/> until <paramref name="stopping"/> is cancelled, the worker is abandoned, or the store is disposed.</summary>
    public async Task RunAsync(ConsumerWorker<TMessage> worker, CancellationToken stopping)
    {
        try
        {
            await ReceiveAndHandleAsync(worker, stopping).ConfigureAwait(false);
        }
        finally
        {
            // A worker ends only once what it handed back is back in the store.
            await worker.HandingBack.ConfigureAwait(false);
        }
    }

    private async Task ReceiveAndHandleAsync(ConsumerWorker<TMessage> worker, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested && !worker.Guard.Abandoned)
        {
            int received;
            try
            {
                received = await _store.ReceiveAsync(worker.Buffer, _leaseDuration, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException ex)
            {
                // Nothing more can be received: the pool says so once this worker has ended (see ConsumerWorkerPool).
                worker.StoreDisposed = ex;
                return;
            }
            catch (Exception ex)
            {
                // A store that failed (a broker connection cut) is retried; its messages stay in the store.
                ConsumerLog.ReceiveFailed(_logger, ex, QueueName);
                try
                {
                    await Task.Delay(s_receiveRetryDelay, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            await HandleReceivedAsync(worker, received, stopping).ConfigureAwait(false);
        }
    }

    private async ValueTask HandleReceivedAsync(ConsumerWorker<TMessage> worker, int received, CancellationToken stopping)
    {
        worker.Hold(received);
        for (var i = 0; !stopping.IsCancellationRequested; i++)
        {
            // The first message of a receive is what the store just chose; a later one may have been overtaken.
            if (i > 0 && i < received && _preemption is not null && await _preemption.ShouldYieldAsync(worker.Buffer[i], stopping).ConfigureAwait(false))
            {
                // Not awaited here: the next receive follows at once, so a durable store commits both together.
                await worker.HandingBack.ConfigureAwait(false);
                worker.HandingBack = _preemption.HandBackAsync(worker.TakeUnstarted()).AsTask();
                break;
            }

            // The check above awaited the store: a stop that came meanwhile starts nothing more.
            if (stopping.IsCancellationRequested || !worker.TryStart(i))
            {
                break;
            }

            var delivery = worker.Buffer[i];
            try
            {
                if (_settler.IsOverAttempts(delivery))
                {
                    await _settler.DeadLetterUnsettledAsync(delivery).ConfigureAwait(false);
                }
                else
                {
                    await HandleAsync(worker, delivery).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                // Nothing may end a worker: its message would stay leased, renewed, forever.
                await _settler.ReleaseAfterFaultAsync(delivery, ex).ConfigureAwait(false);
            }

            worker.Settled(i + 1);
            if (worker.Guard.Abandoned)
            {
                // Its slot went to a new worker when it was abandoned; its prefetched messages went back then.
                break;
            }
        }

        if (stopping.IsCancellationRequested)
        {
            // Prefetched but not started (unless the stop took them first): back to the store at once.
            await _settler.ReleaseUnstartedAsync(worker.TakeUnstarted()).ConfigureAwait(false);
        }

        worker.Clear(received);
    }

    private async ValueTask HandleAsync(ConsumerWorker<TMessage> worker, Delivery<TMessage> delivery)
    {
        var context = worker.Context;
        Exception? failure = null;

        // Counted here, where the handler gets it: a prefetched message released at a stop or handed back for a more
        // urgent one was never delivered to the application, and counts once, when it is.
        _telemetry.Consumed();
        var startedAt = _telemetry.StartProcess();
        using (var activity = MessagingTracing.StartProcess(_telemetry, delivery.Message, delivery.DeliveryCount))
        {
            context.Reset(delivery);
            try
            {
                await _attempts.RunAsync(worker).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
                MessagingTracing.Failed(activity, ex);
            }

            // Handling ends here: the settlement is timed on its own (messaging.client.operation.duration), and a slow
            // ack must not look like a slow handler.
            _telemetry.Processed(delivery.Message, startedAt, failure);
        }

        await _settler.SettleAsync(context, delivery, failure).ConfigureAwait(false);
    }
}
