using MessagingPatterns.Diagnostics;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The one background task that moves messages from the overflow store back into the queue's store, in order, as
/// room frees: each is enqueued into the queue's store and only then acknowledged in the overflow store, so a crash in
/// between duplicates a message (same id, marked with <see cref="LoadLevelingHeaders.MovedFromOverflow"/>), never
/// loses it.
/// </summary>
/// <remarks>
/// A message the queue's store refuses for good (<see cref="ArgumentException"/>), or keeps failing to take
/// <see cref="LoadLevelingDefaults.MaxFailedMoves"/> times while it answers otherwise, is dead-lettered in the
/// overflow store with the reason, so one message cannot stall the queue. A moved message whose acknowledgement in the
/// overflow store fails is remembered, and its copy is removed when the overflow store gives it back: within a process
/// no message is moved twice.
/// </remarks>
/// <typeparam name="TMessage">The message body type.</typeparam>
internal sealed class OverflowMover<TMessage> : IAsyncDisposable
{
    private readonly IMessageStore<TMessage> _overflow;
    private readonly IMessageStore<TMessage> _queue;
    private readonly IOverflowMoveTarget<TMessage> _target;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LoadLevelingMetrics _metrics;
    private readonly Func<string, string>? _redact;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Delivery<TMessage>[] _buffer = new Delivery<TMessage>[LoadLevelingDefaults.MoveBatch];

    // Only the mover task touches these: the head message that keeps failing to move, and the ids moved whose overflow
    // copy could not be acknowledged (removed when they come back, never moved twice).
    private readonly HashSet<string> _movedNotAcked = new(StringComparer.Ordinal);
    private string? _failingId;
    private int _failedMoves;
    private Task _task = Task.CompletedTask;

    /// <summary>Creates a mover; it starts moving once <see cref="Start"/> is called.</summary>
    public OverflowMover(
        IMessageStore<TMessage> overflow, IMessageStore<TMessage> queue, IOverflowMoveTarget<TMessage> target, TimeProvider timeProvider, ILogger logger, LoadLevelingMetrics metrics, Func<string, string>? redact = null)
    {
        ArgumentNullException.ThrowIfNull(overflow);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _overflow = overflow;
        _queue = queue;
        _target = target;
        _time = timeProvider;
        _logger = logger;
        _metrics = metrics;
        _redact = redact;
    }

    /// <summary>Starts the mover task, which first waits for <paramref name="ready"/> (the buffer's first counts).</summary>
    public void Start(Task ready) => _task = Task.Run(() => RunAsync(ready));

    /// <summary>Wakes the mover to look for room and messages to move; cheap, and a no-op once it is stopping.</summary>
    public void Signal()
    {
        // Never after disposal: a publish or settle that completed must not then fail on the disposed signal.
        if (_signal.CurrentCount == 0 && !_stopping.IsCancellationRequested)
        {
            _signal.Release();
        }
    }

    /// <summary>Stops the mover; anything it held goes back to the overflow store by its lease.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _signal.Dispose();
        _stopping.Dispose();
    }

    /// <summary>The message as it goes into the queue's store: same id, body, priority and headers, marked as moved.</summary>
    internal static Message<TMessage> MarkMoved(Message<TMessage> message)
    {
        var headers = new Dictionary<string, string>(message.Headers, StringComparer.Ordinal)
        {
            [LoadLevelingHeaders.MovedFromOverflow] = "true",
        };
        return new Message<TMessage>(message.Body, message.Id, message.Priority, headers);
    }

    private async Task RunAsync(Task ready)
    {
        var token = _stopping.Token;
        try
        {
            await ready.WaitAsync(token).ConfigureAwait(false);
            Signal();
            while (true)
            {
                await _signal.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    await MoveWhileRoomAsync(token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && ex is not ObjectDisposedException)
                {
                    // A store failed (e.g. a broker connection): what was leased comes back by its lease; try again shortly.
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, token).ConfigureAwait(false);
                    Signal();
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && token.IsCancellationRequested)
        {
            // Stopped: the overflow store keeps what was not moved.
        }
    }

    private async Task MoveWhileRoomAsync(CancellationToken token)
    {
        while (true)
        {
            var room = (int)Math.Min(_target.RoomForMoves(), _buffer.Length);
            if (room <= 0)
            {
                return;
            }

            var received = await _overflow.ReceiveAsync(_buffer.AsMemory(0, room), LoadLevelingDefaults.InternalLease, token).ConfigureAwait(false);
            if (!await MoveBatchAsync(received, token).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Moves leased overflow messages into the queue's store, in order; false if the buffer ran out of room (what is
    /// left went back to the overflow store, and freed room signals the mover again).
    /// </summary>
    /// <remarks>
    /// The batch's leases run out together. A message still not in the queue's store by half-time (that store is full
    /// or slow) goes back with the rest, to be leased again on the next look: an expired lease would have the overflow
    /// store deliver it again while it is being moved, and it would be moved twice.
    /// </remarks>
    private async Task<bool> MoveBatchAsync(int received, CancellationToken token)
    {
        using var halfLease = new CancellationTokenSource(LoadLevelingDefaults.InternalLease / 2, _time);
        using var moveToken = CancellationTokenSource.CreateLinkedTokenSource(token, halfLease.Token);
        for (var i = 0; i < received; i++)
        {
            var delivery = _buffer[i];
            var message = delivery.Message;
            if (_movedNotAcked.Contains(message.Id))
            {
                // Its copy is in the queue's store already: this one is only removed.
                if (await TryAckOverflowAsync(delivery).ConfigureAwait(false))
                {
                    _movedNotAcked.Remove(message.Id);
                }

                continue;
            }

            var size = _target.SizeOf(message);
            if (!_target.TryReserveMove(size))
            {
                await GiveBackAsync(i, received).ConfigureAwait(false);
                return false;
            }

            try
            {
                await _queue.EnqueueAsync(MarkMoved(message), moveToken.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (halfLease.IsCancellationRequested && !token.IsCancellationRequested)
            {
                // A cancelled publish stored nothing.
                _target.UnreserveMove(size);
                await GiveBackAsync(i, received).ConfigureAwait(false);
                return true;
            }
            catch (ArgumentException refused)
            {
                // The queue's store refuses this message for good (a priority it does not have, a body over its size
                // limit), though the spill accepted it: dead-lettered where it is, with the reason, not retried forever.
                _target.UnreserveMove(size);
                await DeadLetterAsync(delivery, $"The queue's store refused the message moved back from the overflow store: {refused.Message}").ConfigureAwait(false);
                continue;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                _target.UnreserveMove(size);
                if (await IsStuckAsync(message.Id, ex, token).ConfigureAwait(false))
                {
                    // The store answers, yet keeps failing on this one message (e.g. a body its serializer rejects):
                    // dead-lettered where it is, so the messages behind it flow.
                    await DeadLetterAsync(
                        delivery,
                        $"The queue's store failed {LoadLevelingDefaults.MaxFailedMoves} times to take the message moved back from the overflow store; last error: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
                    continue;
                }

                // The mover tries again shortly: the batch goes back at once, in order, rather than waiting out its leases.
                await GiveBackAsync(i, received).ConfigureAwait(false);
                throw;
            }

            _failingId = null;
            _target.Moved();

            // Acknowledged only once the queue's store holds it: a crash in between duplicates the message, never loses it.
            if (!await TryAckOverflowAsync(delivery).ConfigureAwait(false))
            {
                _movedNotAcked.Add(message.Id);
            }
        }

        Array.Clear(_buffer, 0, received);
        return true;
    }

    /// <summary>Counts a failed move of the head message; true once it has failed too often while the store still answers.</summary>
    private async Task<bool> IsStuckAsync(string messageId, Exception error, CancellationToken token)
    {
        _failedMoves = messageId == _failingId ? _failedMoves + 1 : 1;
        _failingId = messageId;
        LoadLevelingLog.MoveFailed(_logger, error, _target.Name, messageId, _failedMoves);
        if (_failedMoves < LoadLevelingDefaults.MaxFailedMoves)
        {
            return false;
        }

        try
        {
            // A store that cannot even be counted is down (a broker connection lost): then no message is to blame.
            await _queue.GetStatisticsAsync(token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            return false;
        }

        _failingId = null;
        return true;
    }

    /// <summary>Acknowledges a moved message in the overflow store, trying a few times; false if it may still be there.</summary>
    private async Task<bool> TryAckOverflowAsync(Delivery<TMessage> delivery)
    {
        Exception? error = null;
        for (var attempt = 0; attempt < LoadLevelingDefaults.OverflowAckAttempts; attempt++)
        {
            bool acked;
            try
            {
                acked = await _overflow.AckAsync(delivery.Lease, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ObjectDisposedException)
            {
                error = ex;
                continue;
            }

            if (acked)
            {
                _target.RemovedFromOverflow();
                return true;
            }

            // The lease ended all the same (a long pause): the overflow store delivers the message again, and it stays
            // counted there until its copy is removed then.
            break;
        }

        LoadLevelingLog.OverflowAckFailed(_logger, error, _target.Name, delivery.Message.Id);
        return false;
    }

    private async Task DeadLetterAsync(Delivery<TMessage> delivery, string reason)
    {
        // The reason quotes the queue's store's exception, which may quote the message.
        reason = StoreRedaction.Text(reason, _redact);
        if (await _overflow.DeadLetterAsync(delivery.Lease, reason, CancellationToken.None).ConfigureAwait(false))
        {
            _target.RemovedFromOverflow();
            _metrics.OverflowDeadLettered(_target.Name);
            LoadLevelingLog.OverflowDeadLettered(_logger, _target.Name, delivery.Message.Id, reason);
        }
    }

    /// <summary>Releases the leased overflow messages from <paramref name="from"/> on, oldest first, so they come back in their order.</summary>
    private async Task GiveBackAsync(int from, int received)
    {
        for (var j = from; j < received; j++)
        {
            await _overflow.ReleaseAsync(_buffer[j].Lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }

        Array.Clear(_buffer, 0, received);
    }
}
