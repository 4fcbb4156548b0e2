using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;

namespace MessagingPatterns.Pacing;

/// <summary>
/// Receives from a store at the pace a <see cref="RateLimiter"/> sets, one permit per message, taking a permit only
/// for a message that is there: after a quiet spell, a spike starts at most the limiter's burst at once, however many
/// consumers were waiting.
/// </summary>
/// <remarks>
/// Receivers take turns: the one whose turn it is waits for a message, then for its permits, while the others wait
/// for the turn. So at most one receive holds leased messages while waiting for permits, and messages start in the
/// order the store gave them. A permit arriving after more than half the lease renews the lease first.
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The turn's semaphore never creates a wait handle, so it holds nothing to dispose; disposing it would race receives still giving their turn back.")]
internal sealed class PacedReceiver<TMessage>
{
    private readonly RateLimiter _limiter;
    private readonly string _queue;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _turn = new(1, 1);

    // Whether the last turn ended with its permits granted; read by the next turn holder (both under the turn).
    private bool _lastTurnGranted;

    public PacedReceiver(RateLimiter limiter, string queue, TimeProvider timeProvider)
    {
        _limiter = limiter;
        _queue = queue;
        _time = timeProvider;
    }

    /// <summary>Receives from <paramref name="store"/> once permits for the messages are granted.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; nothing stays leased.</exception>
    /// <exception cref="InvalidOperationException">The limiter refused a permit.</exception>
    public async ValueTask<int> ReceiveAsync(
        IMessageStore<TMessage> store, Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var turn = _turn.WaitAsync(cancellationToken);
        var queuedForTurn = !turn.IsCompleted;
        await turn.ConfigureAwait(false);
        var granted = false;
        try
        {
            while (true)
            {
                // As many as there are permits for now, so a batch never holds messages waiting for permits.
                var want = 1;
                if (buffer.Length > 1 && _limiter.GetStatistics()?.CurrentAvailablePermits is > 1 and var available)
                {
                    want = (int)Math.Min(available, buffer.Length);
                }

                var receive = store.ReceiveAsync(buffer[..want], leaseDuration, cancellationToken);

                // A receiver that queued behind a granted turn and finds a message ready has been wanting a permit since
                // that grant: the pacing schedule runs on, so time lost to thread hops and late timers is made up.
                var continuing = queuedForTurn && _lastTurnGranted && receive.IsCompleted;
                var received = await receive.ConfigureAwait(false);
                var leasedAt = _time.GetTimestamp();
                try
                {
                    for (var i = 0; i < received; i++)
                    {
                        await TakePermitAsync(continuing || i > 0, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch
                {
                    // Not handed out: the messages go back at once, in order, rather than waiting out their leases.
                    await ReleaseAsync(store, buffer.Span[..received].ToArray()).ConfigureAwait(false);
                    buffer.Span[..received].Clear();
                    throw;
                }

                granted = true;
                if (_time.GetElapsedTime(leasedAt) < leaseDuration / 2)
                {
                    return received;
                }

                var kept = await RenewAsync(_time, store, buffer, received, leaseDuration, cancellationToken).ConfigureAwait(false);
                if (kept > 0)
                {
                    return kept;
                }
            }
        }
        finally
        {
            _lastTurnGranted = granted;
            _turn.Release();
        }
    }

    private static async Task ReleaseAsync(IMessageStore<TMessage> store, Delivery<TMessage>[] deliveries)
    {
        foreach (var delivery in deliveries)
        {
            await store.ReleaseAsync(delivery.Lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Renews the leases of a long wait; a lease already lost is left out (its message was given to another receiver).</summary>
    private static async ValueTask<int> RenewAsync(
        TimeProvider time,
        IMessageStore<TMessage> store, Memory<Delivery<TMessage>> buffer, int received, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var kept = 0;
        for (var i = 0; i < received; i++)
        {
            var delivery = buffer.Span[i];
            if (await store.RenewLeaseAsync(delivery.Lease, leaseDuration, cancellationToken).ConfigureAwait(false))
            {
                buffer.Span[kept++] = delivery with { LeaseExpiresAt = time.GetUtcNow() + leaseDuration };
            }
        }

        buffer.Span[kept..received].Clear();
        return kept;
    }

    private async ValueTask TakePermitAsync(bool continuing, CancellationToken cancellationToken)
    {
        var acquire = continuing && _limiter is PacingRateLimiter pacing
            ? pacing.AcquireContinuingAsync(1, cancellationToken)
            : _limiter.AcquireAsync(1, cancellationToken);
        RateLimitLease granted;
        try
        {
            granted = await acquire.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled after the message was leased: if a permit is there now, the receive completes with it, rather
            // than handing it back and counting a delivery nobody saw.
            granted = _limiter.AttemptAcquire(1);
            if (!granted.IsAcquired)
            {
                granted.Dispose();
                throw;
            }
        }

        using var permit = granted;
        if (!permit.IsAcquired)
        {
            var reason = permit.TryGetMetadata(MetadataName.ReasonPhrase, out var phrase) ? $": {phrase}" : ".";
            throw new InvalidOperationException($"The rate limiter of queue '{_queue}' refused a permit{reason}");
        }
    }
}
