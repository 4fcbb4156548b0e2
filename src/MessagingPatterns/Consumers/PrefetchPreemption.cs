using MessagingPatterns.Priority;
using MessagingPatterns.Stores;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Consumers;

/// <summary>
/// Keeps a worker's prefetch from inverting priorities: before the worker starts a prefetched message it asks
/// the store whether a more urgent one is ready, and if so hands back what it has not started (without counting
/// a delivery against it) and receives again, which takes the urgent one first.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class PrefetchPreemption<TMessage>
{
    /// <summary>How often a failing check is logged: once is enough to tell, every start would flood the log.</summary>
    internal static readonly TimeSpan FailureLogInterval = TimeSpan.FromMinutes(1);

    private readonly IPreemptibleStore<TMessage> _store;
    private readonly DeliverySettler<TMessage> _settler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _nextFailureLog = long.MinValue;

    private PrefetchPreemption(IPreemptibleStore<TMessage> store, DeliverySettler<TMessage> settler, TimeProvider time, ILogger logger)
    {
        _store = store;
        _settler = settler;
        _time = time;
        _logger = logger;
    }

    /// <summary>The preemption for <paramref name="store"/>, or <see langword="null"/> when there is nothing to preempt (a prefetch of 1, or a store that cannot hand back).</summary>
    public static PrefetchPreemption<TMessage>? For(IMessageStore<TMessage> store, int prefetch, DeliverySettler<TMessage> settler, TimeProvider time, ILogger logger) =>
        prefetch > 1 && store is IPreemptibleStore<TMessage> preemptible ? new(preemptible, settler, time, logger) : null;

    /// <summary>
    /// Whether prefetching from <paramref name="store"/> can start a message of lower priority while one of higher
    /// priority waits: not for a store that hands back, nor for one with a single order (the FIFO store, one level
    /// of a priority store).
    /// </summary>
    public static bool CanInvert(IMessageStore<TMessage> store) =>
        store is not (IPreemptibleStore<TMessage> or InMemoryQueueStore<TMessage> or LevelStoreView<TMessage>);

    /// <summary>The store's type as a warning names it: a decorator's name tells the operator what hides the hand-back.</summary>
    public static string Describe(IMessageStore<TMessage> store)
    {
        var name = store.GetType().Name;
        var arity = name.IndexOf('`', StringComparison.Ordinal);
        return arity < 0 ? name : name[..arity];
    }

    /// <summary>
    /// Whether the prefetched <paramref name="next"/> should wait for a more urgent message. A store that cannot
    /// answer is not asked to hand back: the worker goes on in the order it received, and the failure is logged
    /// (at most once per <see cref="FailureLogInterval"/>), since priorities can then invert.
    /// </summary>
    public async ValueTask<bool> ShouldYieldAsync(Delivery<TMessage> next, CancellationToken cancellationToken)
    {
        try
        {
            return await _store.HasReadyAheadOfAsync(next.Message, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            // The store is gone: the receive loop says so; no inversion is left to warn about.
            return false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogCheckFailed(ex);
            return false;
        }
    }

    private void LogCheckFailed(Exception exception)
    {
        var now = _time.GetTimestamp();
        var next = Volatile.Read(ref _nextFailureLog);
        var interval = (long)(FailureLogInterval.TotalSeconds * _time.TimestampFrequency);
        if (now >= next && Interlocked.CompareExchange(ref _nextFailureLog, now + interval, next) == next)
        {
            ConsumerLog.PreemptionCheckFailed(_logger, exception, _store.Name, FailureLogInterval);
        }
    }

    /// <summary>Hands back deliveries no handler started; if the store fails, releases them the ordinary way instead.</summary>
    public async ValueTask HandBackAsync(Delivery<TMessage>[] unstarted)
    {
        if (unstarted.Length == 0)
        {
            return;
        }

        var leases = Array.ConvertAll(unstarted, static d => d.Lease);
        try
        {
            var handedBack = await _store.HandBackAsync(leases, CancellationToken.None).ConfigureAwait(false);
            ConsumerLog.HandedBack(_logger, _store.Name, handedBack, unstarted[0].Message.Priority);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.HandBackFailed(_logger, ex, _store.Name);
            await _settler.ReleaseUnstartedAsync(unstarted).ConfigureAwait(false);
        }
    }
}
