using MessagingPatterns.Consumers;
using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns;

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
public sealed class ConsumerWorkerPool<TMessage> : IHostedService, IAsyncDisposable, IConsumerPoolStatus
{
    private readonly IMessageStore<TMessage> _store;
    private readonly ConsumerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly QueueTelemetry _telemetry;
    private readonly AttemptRunner<TMessage> _attempts;
    private readonly DeliverySettler<TMessage> _settler;
    private readonly WorkerLoop<TMessage> _loop;
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
    /// <param name="scopeFactory">Creates the DI scope of each attempt, when the attempt first resolves a service from it.</param>
    /// <param name="consumerFactory">Resolves the handler from an attempt's services (<see cref="MessageContext{TMessage}.Services"/>).</param>
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
        : this(store, scopeFactory, ScopeFreeServices.None, consumerFactory, options, timeProvider, logger, instruments: null)
    {
    }

    /// <summary>
    /// A pool whose attempts take <paramref name="scopeFree"/> services without creating a scope, and that records on
    /// <paramref name="instruments"/> (the process-wide ones when <see langword="null"/>).
    /// </summary>
    internal ConsumerWorkerPool(
        IMessageStore<TMessage> store,
        IServiceScopeFactory scopeFactory,
        ScopeFreeServices scopeFree,
        Func<IServiceProvider, IConsumer<TMessage>> consumerFactory,
        ConsumerOptions options,
        TimeProvider? timeProvider,
        ILogger<ConsumerWorkerPool<TMessage>>? logger,
        MessagingInstruments? instruments)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(scopeFactory);
        ArgumentNullException.ThrowIfNull(consumerFactory);
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(new ConsumerOptionsValidator(), store.Name, options);

        _store = store;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var redaction = options.Redact is { } redact ? new Redaction(redact) : null;
        if (redaction is not null)
        {
            _logger = new RedactingLogger(_logger, redaction);
        }

        _attempts = new AttemptRunner<TMessage>(scopeFactory, scopeFree, consumerFactory, options, _time, _logger, store.Name, _cancelHandlers.Token);
        _telemetry = QueueTelemetry.For(store, instruments, _time);
        _settler = new DeliverySettler<TMessage>(store, options, _logger, _telemetry, _cancelHandlers.Token, redaction);
        var preemption = PrefetchPreemption<TMessage>.For(store, options.PrefetchCount, _settler, _time, _logger);
        _loop = new WorkerLoop<TMessage>(store, options.LeaseDuration, _attempts, _settler, preemption, _time, _logger, _telemetry);
    }

    /// <summary>The queue this pool consumes.</summary>
    public string QueueName => _store.Name;

    /// <summary>
    /// Where the pool is in its life: <see cref="ConsumerPoolState.Faulted"/> once a worker ended without a stop
    /// (its store was disposed), even if others still run.
    /// </summary>
    public ConsumerPoolState State
    {
        get
        {
            lock (_lifecycle)
            {
                if (_stopped)
                {
                    return ConsumerPoolState.Stopped;
                }

                if (!_started)
                {
                    return ConsumerPoolState.NotStarted;
                }

                // A worker ends by itself only when its store is gone; an abandoned worker has left _workers.
                return Array.Exists(_workers, static w => w.Completion.IsCompleted) ? ConsumerPoolState.Faulted : ConsumerPoolState.Running;
            }
        }
    }

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
            if (_options.PrefetchCount > 1 && PrefetchPreemption<TMessage>.CanInvert(_store))
            {
                ConsumerLog.PrefetchCanInvert(_logger, QueueName, _options.PrefetchCount, PrefetchPreemption<TMessage>.Describe(_store));
            }

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

        LogLifecycle(static pool => ConsumerLog.PoolStarted(
            pool._logger, pool.QueueName, pool._options.Concurrency, pool._options.PrefetchCount, pool._options.LeaseDuration, pool._options.MaxDeliveryAttempts));
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
                await _settler.ReleaseUnstartedAsync(worker.TakeUnstarted()).ConfigureAwait(false);
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

            LogLifecycle(static pool => ConsumerLog.PoolStopped(pool._logger, pool.QueueName));
        }
    }

    private async Task<bool> FinishesWithinAsync(Task running, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // A timer of our own, disposed before this returns: Task.WaitAsync(timeout) disposes its timer only after the
        // continuations it resumes have run, so the pool's stop could return with that timer still armed.
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            await running.WaitAsync(either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (either.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Logs a start or a stop; a log sink that fails must fail neither.</summary>
    private void LogLifecycle(Action<ConsumerWorkerPool<TMessage>> log)
    {
        try
        {
            log(this);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nothing to tell it to: the logger is what failed.
        }
    }

    /// <summary>Starts a worker (under the lifecycle lock).</summary>
    private void StartWorker()
    {
        var worker = new ConsumerWorker<TMessage>(_attempts, _options.PrefetchCount, _store.Name);
        _everyWorker.Add(worker);
        _workers = [.. _workers, worker];
        worker.Completion = Task.Run(() => _loop.RunAsync(worker, _stopReceiving.Token), CancellationToken.None);

        // A worker whose store was disposed is said so in the log, or a pool that stopped consuming looks healthy;
        // logged after its task has completed, so whoever reads the line (an operator, a health check) sees the pool faulted.
        worker.Completion.ContinueWith(
            _ =>
            {
                if (worker.StoreDisposed is { } disposed)
                {
                    ConsumerLog.WorkerStoppedStoreDisposed(_logger, disposed, _store.Name);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
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
        _telemetry.HandlerAbandoned();
        ConsumerLog.HandlerAbandoned(_logger, QueueName, messageId ?? "(none)", _options.HandlerTimeout + _options.HandlerGracePeriod);
        lock (_lifecycle)
        {
            _workers = Array.FindAll(_workers, w => w != worker);
            if (!_stopped)
            {
                StartWorker();
            }
        }

        _ = _settler.ReleaseUnstartedAsync(worker.TakeUnstarted()).AsTask();
    }

    private async Task CancelHandlersAsync()
    {
        await _cancelHandlers.CancelAsync().ConfigureAwait(false);
        foreach (var worker in _workers)
        {
            worker.Guard.CancelForShutdown();
        }
    }

    private void CollectHeld(List<LeaseToken> leases)
    {
        foreach (var worker in _workers)
        {
            worker.CollectHeld(leases);
        }
    }
}
