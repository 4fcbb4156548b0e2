using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Consumers;

/// <summary>
/// Renews the leases a pool holds, a round every third of the lease. A round renews its leases concurrently,
/// not one after another: a durable store commits each renewal, and its group commit batches concurrent ones
/// into one commit (renewed one at a time, 200 SQLite leases of 2 s outlasted their lease). Concurrent calls
/// need nothing new from the store contract, so every store gets the batching its writer already does. Which
/// leases to renew is the caller's decision: an abandoned attempt's lease is not offered, so it ends.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class LeaseRenewer<TMessage>
{
    private readonly IMessageStore<TMessage> _store;
    private readonly TimeSpan _leaseDuration;
    private readonly Action<List<LeaseToken>> _collectHeld;
    private readonly ILogger _logger;
    private int _renewing;

    /// <param name="store">The store that granted the leases.</param>
    /// <param name="leaseDuration">How long each renewal extends a lease.</param>
    /// <param name="collectHeld">Adds the leases to renew this round.</param>
    /// <param name="logger">Where failed renewals are logged.</param>
    public LeaseRenewer(IMessageStore<TMessage> store, TimeSpan leaseDuration, Action<List<LeaseToken>> collectHeld, ILogger logger)
    {
        _store = store;
        _leaseDuration = leaseDuration;
        _collectHeld = collectHeld;
        _logger = logger;
    }

    /// <summary>
    /// The period of the renewal rounds: a third of the lease, and at least a millisecond, because a system timer
    /// truncates its period to whole milliseconds and a zero period fires once.
    /// </summary>
    public static TimeSpan PeriodFor(TimeSpan leaseDuration) =>
        TimeSpan.FromTicks(Math.Max(leaseDuration.Ticks / 3, TimeSpan.TicksPerMillisecond));

    /// <summary>Starts the rounds on <paramref name="time"/>; dispose the timer to stop them.</summary>
    public ITimer Start(TimeProvider time)
    {
        var period = PeriodFor(_leaseDuration);
        return time.CreateTimer(static s => ((LeaseRenewer<TMessage>)s!).StartRound(), this, period, period);
    }

    /// <summary>Starts a round unless one is still running (a slow store must not pile rounds up).</summary>
    public void StartRound()
    {
        if (Interlocked.Exchange(ref _renewing, 1) == 1)
        {
            return;
        }

        _ = RunRoundAsync();
    }

    /// <summary>Renews <paramref name="leases"/> concurrently; a failure is logged and leaves the others renewed.</summary>
    public Task RenewAsync(IReadOnlyList<LeaseToken> leases)
    {
        var renewals = new Task[leases.Count];
        for (var i = 0; i < renewals.Length; i++)
        {
            renewals[i] = RenewOneAsync(leases[i]);
        }

        return Task.WhenAll(renewals);
    }

    private async Task RunRoundAsync()
    {
        try
        {
            var leases = new List<LeaseToken>();
            _collectHeld(leases);
            await RenewAsync(leases).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ConsumerLog.RenewFailed(_logger, ex, _store.Name);
        }
        finally
        {
            Volatile.Write(ref _renewing, 0);
        }
    }

    private async Task RenewOneAsync(LeaseToken lease)
    {
        try
        {
            // A lease settled since it was collected simply reports false.
            await _store.RenewLeaseAsync(lease, _leaseDuration, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // One failure must not leave the round's other leases to expire.
            ConsumerLog.RenewFailed(_logger, ex, _store.Name);
        }
    }
}
