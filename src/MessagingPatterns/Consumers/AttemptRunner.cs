using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly;

namespace MessagingPatterns.Consumers;

/// <summary>
/// Runs a worker's current delivery through the handler: every attempt with a DI scope (created when the attempt
/// first needs it, see <see cref="AttemptServices"/>) and a consumer of its own, under the worker's attempt guard (the handler timeout and shutdown cancellation), inside the resilience
/// pipeline. It only runs attempts; what the outcome means for the message is <see cref="DeliverySettler{TMessage}"/>'s.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class AttemptRunner<TMessage>
{
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly ScopeFreeServices _scopeFree;
    private readonly Func<IServiceProvider, IConsumer<TMessage>> _consumerFactory;
    private readonly ResiliencePipeline _pipeline;
    private readonly bool _usesDefaultPipeline;
    private readonly TimeSpan _handlerTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _queueName;
    private readonly CancellationToken _shutdown;

    /// <param name="scopeFactory">Creates each attempt's scope.</param>
    /// <param name="scopeFree">Which services an attempt takes without a scope.</param>
    /// <param name="consumerFactory">Resolves the handler from an attempt's services.</param>
    /// <param name="options">The pool's options: the pipeline (or the default one built from them) and the handler timeout.</param>
    /// <param name="time">The clock attempts are timed on.</param>
    /// <param name="logger">Where a handler that returned after its timeout is logged.</param>
    /// <param name="queueName">The queue, for logs.</param>
    /// <param name="shutdown">Cancelled when a stop's drain period ends: the pipeline stops retrying.</param>
    public AttemptRunner(
        IServiceScopeFactory scopeFactory,
        ScopeFreeServices scopeFree,
        Func<IServiceProvider, IConsumer<TMessage>> consumerFactory,
        ConsumerOptions options,
        TimeProvider time,
        ILogger logger,
        string queueName,
        CancellationToken shutdown)
    {
        _scopeFactory = scopeFactory;
        _scopeFree = scopeFree;
        _consumerFactory = consumerFactory;
        _pipeline = options.ResiliencePipeline ?? DefaultResiliencePipeline.Create(options, time);
        _usesDefaultPipeline = options.ResiliencePipeline is null;
        _handlerTimeout = options.HandlerTimeout;
        _time = time;
        _logger = logger;
        _queueName = queueName;
        _shutdown = shutdown;
    }

    /// <summary>A worker's attempt services: each attempt's scope, created when the attempt first needs it.</summary>
    public AttemptServices CreateServices() => new(_scopeFactory, _scopeFree);

    /// <summary>
    /// Runs the worker's current delivery (its context is already reset to it) with every retry the pipeline
    /// allows. Completes when an attempt succeeded; throws the last attempt's failure otherwise.
    /// </summary>
    public ValueTask RunAsync(ConsumerWorker<TMessage> worker)
    {
        if (_pipeline == ResiliencePipeline.Empty)
        {
            return RunAttemptAsync(worker, _shutdown);
        }

        if (_usesDefaultPipeline)
        {
            return RunWithDefaultRetriesAsync(worker);
        }

        return _pipeline.ExecuteAsync(static (worker, token) => worker.Attempts.RunAttemptAsync(worker, token), worker, _shutdown);
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
        var first = RunAttemptAsync(worker, _shutdown);
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

                return worker.Attempts.RunAttemptAsync(worker, token);
            },
            worker,
            _shutdown).ConfigureAwait(false);
    }

    /// <summary>
    /// One handler attempt, with a DI scope and a consumer of its own (a retry never sees a failed
    /// attempt's unit of work), under the worker's attempt guard (timeout and shutdown cancellation).
    /// </summary>
    internal ValueTask RunAttemptAsync(ConsumerWorker<TMessage> worker, CancellationToken pipelineToken)
    {
        if (pipelineToken.CanBeCanceled && pipelineToken != _shutdown)
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
        var handling = StartAttempt(worker, guard.Begin(_time.GetTimestamp()));
        if (handling.IsCompletedSuccessfully)
        {
            var ending = worker.Services.EndAsync();
            if (ending.IsCompletedSuccessfully)
            {
                return guard.End() ? ValueTask.FromException(HandlerTimedOut(worker, null)) : ValueTask.CompletedTask;
            }

            return CompleteAttemptAsync(worker, ending.AsTask(), endServices: false);
        }

        return CompleteAttemptAsync(worker, handling, endServices: true);
    }

    /// <summary>Gives the attempt its services, creates its consumer and calls the handler; a failure to do so is the attempt's failure.</summary>
    private Task StartAttempt(ConsumerWorker<TMessage> worker, CancellationToken attemptToken)
    {
        var context = worker.Context;
        context.ResetSettlement();
        try
        {
            var services = worker.Services;
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
    private async ValueTask CompleteAttemptAsync(ConsumerWorker<TMessage> worker, Task handling, bool endServices)
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

        if (endServices)
        {
            try
            {
                await worker.Services.EndAsync().ConfigureAwait(false);
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
            ConsumerLog.ReturnedAfterTimeout(_logger, _queueName, worker.Context.MessageId, _handlerTimeout);
        }

        return new($"The handler did not finish within the handler timeout of {_handlerTimeout}.", outcome);
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
            var handling = StartAttempt(worker, attemptToken);
            await CompleteAttemptAsync(worker, handling, endServices: true).ConfigureAwait(false);
        }
        finally
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
    }
}
