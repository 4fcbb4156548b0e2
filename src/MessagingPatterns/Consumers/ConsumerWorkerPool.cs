using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;

namespace MessagingPatterns.Consumers;

/// <summary>
/// The consumer runtime: a pool of workers that receive from a store and run an <see cref="IConsumer{TMessage}"/>
/// per message in its own DI scope, inside a resilience pipeline, with bounded concurrency, lease renewal,
/// retries, dead-lettering after <see cref="ConsumerOptions.MaxDeliveryAttempts"/>, and a graceful shutdown
/// that releases everything it did not finish.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// Several pools, in one process or many, may consume one shared store: they compete for its messages.
/// With DI, <c>AddConsumer</c> registers the pool as a hosted service.
/// </remarks>
public sealed class ConsumerWorkerPool<TMessage> : IHostedService, IAsyncDisposable
{
    private readonly IMessageStore<TMessage> _store;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly Func<IServiceProvider, IConsumer<TMessage>> _consumerFactory;
    private readonly ConsumerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _pipeline;
    private readonly bool _usesDefaultPipeline;
    private readonly CancellationTokenSource _stopReceiving = new();
    private readonly CancellationTokenSource _cancelHandlers = new();
    private readonly CancellationTokenSource _hurry = new();
    private readonly List<ConsumerWorker<TMessage>> _everyWorker = [];
    private readonly Lock _lifecycle = new();
    private volatile ConsumerWorker<TMessage>[] _workers = [];
    private Task? _stopping;
    private bool _started;
    private ITimer? _renewalTimer;
    private ITimer? _watchdogTimer;
    private int _disposed;
    private bool _stopped;

    /// <summary>Creates a pool. Call <see cref="StartAsync"/> to start consuming.</summary>
    /// <param name="store">The store to consume.</param>
    /// <param name="scopeFactory">Creates the DI scope of each message.</param>
    /// <param name="consumerFactory">Resolves the handler from a message's scope.</param>
    /// <param name="options">The options; validated here.</param>
    /// <param name="timeProvider">The clock for timeouts, backoff, renewal and shutdown; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">Where failures and lost leases are logged.</param>
    /// <exception cref="ArgumentNullException">A required argument is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid; the message names each invalid option.</exception>
    public ConsumerWorkerPool(
        IMessageStore<TMessage> store,
        IServiceScopeFactory scopeFactory,
        Func<IServiceProvider, IConsumer<TMessage>> consumerFactory,
        ConsumerOptions options,
        TimeProvider? timeProvider = null,
        ILogger<ConsumerWorkerPool<TMessage>>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(scopeFactory);
        ArgumentNullException.ThrowIfNull(consumerFactory);
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(new ConsumerOptionsValidator(), store.Name, options);

        _store = store;
        _scopeFactory = scopeFactory;
        _consumerFactory = consumerFactory;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _pipeline = options.ResiliencePipeline ?? DefaultResiliencePipeline.Create(options, _time);
        _usesDefaultPipeline = options.ResiliencePipeline is null;
    }

    /// <summary>The queue this pool consumes.</summary>
    public string QueueName => _store.Name;

    /// <summary>Starts the workers. Returns at once; consuming goes on in the background until <see cref="StopAsync"/>.</summary>
    /// <param name="cancellationToken">Not used: starting does not wait.</param>
    /// <exception cref="InvalidOperationException">The pool was already started or stopped.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lifecycle)
        {
            if (_started || _stopped)
            {
                throw new InvalidOperationException($"The consumer pool of queue '{QueueName}' was already started; a pool starts once.");
            }

            _started = true;
            if (_options.RenewLeases)
            {
                _renewalTimer = new LeaseRenewer<TMessage>(_store, _options.LeaseDuration, CollectHeld, _logger).Start(_time);
            }

            var check = TimeSpan.FromTicks(Math.Clamp(_options.HandlerTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerSecond));
            _watchdogTimer = _time.CreateTimer(static s => ((ConsumerWorkerPool<TMessage>)s!).CancelOverdueAttempts(), this, check, check);

            for (var i = 0; i < _options.Concurrency; i++)
            {
                StartWorker();
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: stops receiving, releases prefetched messages at once, lets running handlers
    /// finish within <see cref="ConsumerOptions.ShutdownTimeout"/>, then cancels their tokens and waits at
    /// most <see cref="ConsumerOptions.CancelledHandlerWait"/> more for them to release what they did not finish. A handler
    /// still running after that keeps its message, which comes back when its lease ends (renewal stops):
    /// nothing is released while a handler may still be working on it, and nothing is lost. Later calls
    /// wait for the same stop.
    /// </summary>
    /// <param name="cancellationToken">When cancelled (the host gave up), cancels the running handlers and returns without waiting further; what they do not release comes back when its lease ends.</param>
    /// <returns>A task that completes within <see cref="ConsumerOptions.ShutdownTimeout"/> plus <see cref="ConsumerOptions.CancelledHandlerWait"/>.</returns>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task stopping;
        lock (_lifecycle)
        {
            _stopped = true;
            if (!_started)
            {
                return;
            }

            stopping = _stopping ??= StopOnceAsync();
        }

        using var hurry = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _hurry);
        try
        {
            await stopping.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host gave up waiting; the stop goes on, bounded, in the background.
        }
    }

    private async Task StopOnceAsync()
    {
        try
        {
            var workers = _workers;
            var running = Task.WhenAll(Array.ConvertAll(workers, static w => w.Completion));

            // Workers that already ended (their store was disposed) have nothing left to stop.
            if (running.IsCompleted)
            {
                return;
            }

            await _stopReceiving.CancelAsync().ConfigureAwait(false);
            foreach (var worker in workers)
            {
                // Running handlers go on; what their workers prefetched goes back now, for other consumers.
                await ReleaseUnstartedAsync(worker).ConfigureAwait(false);
            }

            if (await FinishesWithinAsync(running, _options.ShutdownTimeout, _hurry.Token).ConfigureAwait(false))
            {
                return;
            }

            ConsumerLog.DrainTimedOut(_logger, QueueName, _options.ShutdownTimeout);
            await CancelHandlersAsync().ConfigureAwait(false);
            if (!await FinishesWithinAsync(running, ConsumerOptions.CancelledHandlerWait, CancellationToken.None).ConfigureAwait(false))
            {
                ConsumerLog.HandlersLeftRunning(_logger, QueueName, ConsumerOptions.CancelledHandlerWait);
            }
        }
        finally
        {
            // Always: the timers would otherwise fire on after the pool is gone, and renewal must stop so the
            // messages of handlers still running come back when their leases end.
            if (Interlocked.Exchange(ref _renewalTimer, null) is { } renewalTimer)
            {
                await renewalTimer.DisposeAsync().ConfigureAwait(false);
            }

            if (Interlocked.Exchange(ref _watchdogTimer, null) is { } watchdogTimer)
            {
                await watchdogTimer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> FinishesWithinAsync(Task running, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await running.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Starts a worker (under the lifecycle lock).</summary>
    private void StartWorker()
    {
        var worker = new ConsumerWorker<TMessage>(this, _options.PrefetchCount, _store.Name);
        _everyWorker.Add(worker);
        _workers = [.. _workers, worker];
        worker.Completion = Task.Run(() => RunWorkerAsync(worker), CancellationToken.None);
    }

    /// <summary>Stops the pool (as <see cref="StopAsync"/> with no outside deadline).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_lifecycle)
        {
            // A handler still running (it ignored its token) may still read its tokens: leave those to the collector.
            if (_everyWorker.TrueForAll(static w => w.Completion.IsCompleted))
            {
                _stopReceiving.Dispose();
                _cancelHandlers.Dispose();
                foreach (var worker in _everyWorker)
                {
                    worker.Guard.Dispose();
                }
            }
        }
    }

    private async Task RunWorkerAsync(ConsumerWorker<TMessage> worker)
    {
        var stopping = _stopReceiving.Token;
        while (!stopping.IsCancellationRequested && !worker.Guard.Abandoned)
        {
            int received;
            try
            {
                received = await _store.ReceiveAsync(worker.Buffer, _options.LeaseDuration, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException ex)
            {
                // Nothing more can be received; say so, or a pool that stopped consuming looks healthy.
                ConsumerLog.WorkerStoppedStoreDisposed(_logger, ex, QueueName);
                return;
            }
            catch (Exception ex)
            {
                // A store that failed (a broker connection cut) is retried; its messages stay in the store.
                ConsumerLog.ReceiveFailed(_logger, ex, QueueName);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            worker.Hold(received);
            for (var i = 0; !stopping.IsCancellationRequested && worker.TryStart(i); i++)
            {
                var delivery = worker.Buffer[i];
                try
                {
                    if (delivery.DeliveryCount > _options.MaxDeliveryAttempts)
                    {
                        await DeadLetterUnsettledAsync(delivery).ConfigureAwait(false);
                    }
                    else
                    {
                        await HandleAsync(worker, delivery).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    // Nothing may end a worker: its message would stay leased, renewed, forever.
                    await ReleaseAfterFaultAsync(delivery, ex).ConfigureAwait(false);
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
                // Prefetched but not started (unless StopAsync took them first): back to the store at once.
                await ReleaseUnstartedAsync(worker).ConfigureAwait(false);
            }

            worker.Clear(received);
        }
    }

    private async ValueTask HandleAsync(ConsumerWorker<TMessage> worker, Delivery<TMessage> delivery)
    {
        var context = worker.Context;
        Exception? failure = null;
        var startedAt = MessagingMetrics.IsLatencyEnabled ? _time.GetTimestamp() : 0;
        using var activity = MessagingMetrics.StartConsumeActivity(QueueName, delivery.Message, delivery.DeliveryCount);
        context.Reset(delivery);
        try
        {
            if (_pipeline == ResiliencePipeline.Empty)
            {
                await RunAttemptAsync(worker, _cancelHandlers.Token).ConfigureAwait(false);
            }
            else if (_usesDefaultPipeline)
            {
                await RunWithDefaultRetriesAsync(worker).ConfigureAwait(false);
            }
            else
            {
                await _pipeline.ExecuteAsync(
                    static (worker, token) => worker.Pool.RunAttemptAsync(worker, token),
                    worker,
                    _cancelHandlers.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        if (failure is not null)
        {
            activity?.SetStatus(ActivityStatusCode.Error, failure.Message);
        }

        await SettleAsync(context, delivery, failure).ConfigureAwait(false);
        if (startedAt != 0)
        {
            MessagingMetrics.RecordHandled(QueueName, delivery.Message, _time.GetElapsedTime(startedAt), _time.GetUtcNow());
        }
    }

    /// <summary>
    /// The default pipeline (retries only) entered after a first failure: most attempts succeed, and a
    /// pipeline execution costs about half of the runtime's per-message time. The first failure is replayed
    /// as the pipeline's first attempt, so backoff and retry count are exactly those of running it all
    /// through the pipeline. User pipelines (circuit breakers, timeouts) always see every attempt.
    /// </summary>
    private ValueTask RunWithDefaultRetriesAsync(ConsumerWorker<TMessage> worker)
    {
        // Most attempts succeed synchronously: no state machine for them.
        var first = RunAttemptAsync(worker, _cancelHandlers.Token);
        return first.IsCompletedSuccessfully ? ValueTask.CompletedTask : RetryAfterFirstAttemptAsync(worker, first);
    }

    private async ValueTask RetryAfterFirstAttemptAsync(ConsumerWorker<TMessage> worker, ValueTask first)
    {
        try
        {
            await first.ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            worker.FirstFailure = ExceptionDispatchInfo.Capture(ex);
        }

        await _pipeline.ExecuteAsync(
            static (worker, token) =>
            {
                if (worker.FirstFailure is { } firstFailure)
                {
                    worker.FirstFailure = null;
                    firstFailure.Throw();
                }

                return worker.Pool.RunAttemptAsync(worker, token);
            },
            worker,
            _cancelHandlers.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// One handler attempt, in a DI scope and with a consumer of its own (a retry never sees a failed
    /// attempt's unit of work), under the worker's attempt guard (timeout and shutdown cancellation).
    /// </summary>
    internal ValueTask RunAttemptAsync(ConsumerWorker<TMessage> worker, CancellationToken pipelineToken)
    {
        if (pipelineToken.CanBeCanceled && pipelineToken != _cancelHandlers.Token)
        {
            return RunLinkedAttemptAsync(worker, pipelineToken);
        }

        var guard = worker.Guard;
        if (guard.Abandoned)
        {
            // No retry on a lease no longer renewed: the message comes back to another worker.
            return ValueTask.FromException(new OperationCanceledException("The attempt's worker was abandoned; its message comes back when its lease ends."));
        }

        // The common case (our own token, a handler that finishes synchronously) without a state machine.
        var handling = StartAttempt(worker, guard.Begin(_time.GetTimestamp()), out var scope);
        if (handling.IsCompletedSuccessfully && scope is { } created)
        {
            var disposing = created.DisposeAsync();
            if (disposing.IsCompletedSuccessfully)
            {
                return guard.End() ? ValueTask.FromException(HandlerTimedOut(worker, null)) : ValueTask.CompletedTask;
            }

            return CompleteAttemptAsync(worker, disposing.AsTask(), null);
        }

        return CompleteAttemptAsync(worker, handling, scope);
    }

    /// <summary>Creates the attempt's scope and consumer and calls the handler; a failure to do so is the attempt's failure.</summary>
    private Task StartAttempt(ConsumerWorker<TMessage> worker, CancellationToken attemptToken, out AsyncServiceScope? scope)
    {
        scope = null;
        var context = worker.Context;
        context.ResetSettlement();
        try
        {
            var created = _scopeFactory.CreateAsyncScope();
            scope = created;
            var services = created.ServiceProvider;
            context.Services = services;
            return _consumerFactory(services).ConsumeAsync(context, attemptToken);
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    /// <summary>
    /// Waits for the handler, then ends its scope. A scoped service that fails on disposal (a unit of work
    /// committing) fails the attempt, unless the handler already failed it. An attempt past its timeout that
    /// returned normally or was cancelled fails with a <see cref="TimeoutException"/>: a handler that saw its
    /// token cancelled may have returned half way, and acknowledging it could lose the message's work.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteAttemptAsync(ConsumerWorker<TMessage> worker, Task handling, AsyncServiceScope? scope)
    {
        Exception? failure = null;
        try
        {
            await handling.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        if (scope is { } created)
        {
            try
            {
                await created.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure ??= ex;
            }
        }

        // A handler's own exception says more than the timeout does; a cancellation or a normal return does not.
        if (worker.Guard.End() && failure is null or OperationCanceledException)
        {
            throw HandlerTimedOut(worker, failure);
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    private TimeoutException HandlerTimedOut(ConsumerWorker<TMessage> worker, Exception? outcome)
    {
        if (outcome is null)
        {
            // The handler returned normally, but after its token was cancelled: failing it may repeat its work.
            ConsumerLog.ReturnedAfterTimeout(_logger, QueueName, worker.Context.MessageId, _options.HandlerTimeout);
        }

        return new($"The handler did not finish within the handler timeout of {_options.HandlerTimeout}.", outcome);
    }

    /// <summary>An attempt under a user pipeline's own token (its own timeout), followed as well as ours.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunLinkedAttemptAsync(ConsumerWorker<TMessage> worker, CancellationToken pipelineToken)
    {
        var guard = worker.Guard;
        var attemptToken = guard.Begin(_time.GetTimestamp());

        // Ours needs no link: shutdown cancels the guards directly.
        var link = pipelineToken.UnsafeRegister(static s => ((AttemptGuard)s!).CancelCurrent(), guard);
        try
        {
            var handling = StartAttempt(worker, attemptToken, out var scope);
            await CompleteAttemptAsync(worker, handling, scope).ConfigureAwait(false);
        }
        finally
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void CancelOverdueAttempts()
    {
        var now = _time.GetTimestamp();
        foreach (var worker in _workers)
        {
            worker.Guard.CancelIfOverdue(_time, now, _options.HandlerTimeout);
            if (worker.Guard.TryAbandon(_time, now, _options.HandlerTimeout + _options.HandlerGracePeriod))
            {
                Abandon(worker);
            }
        }
    }

    /// <summary>
    /// Gives up on a worker whose attempt ran past its timeout and grace: its lease is no longer renewed, so its
    /// message comes back (and counts a delivery) when the lease ends; its prefetched messages go back now; a new
    /// worker takes its slot, so the pool keeps its concurrency. The attempt's late settle is refused as stale.
    /// </summary>
    private void Abandon(ConsumerWorker<TMessage> worker)
    {
        var messageId = worker.CurrentMessageId();
        MessagingMetrics.HandlerAbandoned(QueueName);
        ConsumerLog.HandlerAbandoned(_logger, QueueName, messageId ?? "(none)", _options.HandlerTimeout + _options.HandlerGracePeriod);
        lock (_lifecycle)
        {
            _workers = Array.FindAll(_workers, w => w != worker);
            if (!_stopped)
            {
                StartWorker();
            }
        }

        _ = ReleaseUnstartedAsync(worker).AsTask();
    }

    private async Task CancelHandlersAsync()
    {
        await _cancelHandlers.CancelAsync().ConfigureAwait(false);
        foreach (var worker in _workers)
        {
            worker.Guard.CancelForShutdown();
        }
    }

    private ValueTask SettleAsync(MessageContext<TMessage> context, Delivery<TMessage> delivery, Exception? failure)
    {
        if (failure is not null || context.Settlement != Settlement.Ack)
        {
            return SettleOtherwiseAsync(context, delivery, failure);
        }

        // The common case, an ack the store completes at once, without a state machine.
        ValueTask<bool> acking;
        try
        {
            acking = _store.AckAsync(delivery.Lease, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
            return ValueTask.CompletedTask;
        }

        if (acking.IsCompletedSuccessfully)
        {
            Acked(delivery, acking.Result);
            return ValueTask.CompletedTask;
        }

        return AwaitAckAsync(acking, delivery);
    }

    private async ValueTask AwaitAckAsync(ValueTask<bool> acking, Delivery<TMessage> delivery)
    {
        try
        {
            Acked(delivery, await acking.ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
        }
    }

    private void Acked(Delivery<TMessage> delivery, bool acked)
    {
        if (acked)
        {
            MessagingMetrics.Consumed(QueueName, delivery.Message.Priority);
        }
        else
        {
            LeaseLost(delivery);
        }
    }

    /// <summary>Every settlement but a plain ack: retry, dead-letter, a failed or cancelled attempt.</summary>
    private async ValueTask SettleOtherwiseAsync(MessageContext<TMessage> context, Delivery<TMessage> delivery, Exception? failure)
    {
        var lastAttempt = delivery.DeliveryCount >= _options.MaxDeliveryAttempts;
        try
        {
            if (failure is null)
            {
                switch (context.Settlement)
                {
                    case Settlement.DeadLetter:
                        await DeadLetterAsync(delivery, context.DeadLetterReason!).ConfigureAwait(false);
                        return;
                    case Settlement.Retry when lastAttempt:
                        await DeadLetterAsync(delivery, $"The handler asked for a retry on the last of {_options.MaxDeliveryAttempts} delivery attempts.").ConfigureAwait(false);
                        return;
                    case Settlement.Retry:
                        await ReleaseAsync(delivery, context.RetryDelay).ConfigureAwait(false);
                        return;
                    default:
                        Acked(delivery, await _store.AckAsync(delivery.Lease, CancellationToken.None).ConfigureAwait(false));
                        return;
                }
            }

            if (_cancelHandlers.IsCancellationRequested)
            {
                // Cancelled by shutdown, not failed by the handler, whatever it threw (handlers may wrap the
                // cancellation in their own exception): give it back untouched.
                await ReleaseAsync(delivery, TimeSpan.Zero).ConfigureAwait(false);
                return;
            }

            MessagingMetrics.Failed(QueueName, delivery.Message.Priority);
            ConsumerLog.HandlerFailed(_logger, failure, QueueName, delivery.Message.Id, delivery.DeliveryCount);
            if (lastAttempt)
            {
                await DeadLetterAsync(delivery, $"{failure.GetType().FullName}: {failure.Message}").ConfigureAwait(false);
            }
            else
            {
                await ReleaseAsync(delivery, _options.RedeliveryDelay).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The store could not settle (disposed, connection lost): the lease ends and the message comes back.
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
        }
    }

    /// <summary>
    /// Dead-letters a delivery over the attempts allowed without running the handler. Counts rise when a
    /// lease is granted, so this is a message whose earlier deliveries were never settled: a handler that
    /// crashes its process every time would otherwise be run forever.
    /// </summary>
    private async ValueTask DeadLetterUnsettledAsync(Delivery<TMessage> delivery)
    {
        try
        {
            await DeadLetterAsync(
                delivery,
                $"Delivered {delivery.DeliveryCount} times, over the {_options.MaxDeliveryAttempts} allowed, without being settled (its consumer stopped while handling it, for example).").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.SettleFailed(_logger, ex, QueueName, delivery.Message.Id);
        }
    }

    /// <summary>Releases a worker's prefetched deliveries that no handler has started, for other consumers to take at once.</summary>
    private async ValueTask ReleaseUnstartedAsync(ConsumerWorker<TMessage> worker)
    {
        foreach (var delivery in worker.TakeUnstarted())
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

    private async ValueTask ReleaseAsync(Delivery<TMessage> delivery, TimeSpan delay)
    {
        if (!await _store.ReleaseAsync(delivery.Lease, delay, CancellationToken.None).ConfigureAwait(false))
        {
            LeaseLost(delivery);
        }
    }

    private async ValueTask DeadLetterAsync(Delivery<TMessage> delivery, string reason)
    {
        if (await _store.DeadLetterAsync(delivery.Lease, reason, CancellationToken.None).ConfigureAwait(false))
        {
            MessagingMetrics.DeadLettered(QueueName, delivery.Message.Priority);
            ConsumerLog.DeadLettered(_logger, QueueName, delivery.Message.Id, delivery.DeliveryCount, reason);
        }
        else
        {
            LeaseLost(delivery);
        }
    }

    /// <summary>
    /// Best effort after a failure outside the handler and its settlement (a logger or a tracing listener
    /// that threw): the delivery goes back for redelivery and the worker goes on.
    /// </summary>
    private async ValueTask ReleaseAfterFaultAsync(Delivery<TMessage> delivery, Exception fault)
    {
        Exception? releaseFailure = null;
        try
        {
            // A delivery settled before the fault reports false: nothing to undo.
            await _store.ReleaseAsync(delivery.Lease, _options.RedeliveryDelay, CancellationToken.None).ConfigureAwait(false);
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

    private void LeaseLost(Delivery<TMessage> delivery)
    {
        MessagingMetrics.LeaseLost(QueueName);
        ConsumerLog.LeaseLost(_logger, QueueName, delivery.Message.Id, delivery.DeliveryCount);
    }

    private void CollectHeld(List<LeaseToken> leases)
    {
        foreach (var worker in _workers)
        {
            worker.CollectHeld(leases);
        }
    }
}
