using MessagingPatterns.Diagnostics;
using MessagingPatterns.Pacing;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The load-leveling buffer: a decorator over any store that bounds what the store holds (messages, and optionally
/// bytes), applies a <see cref="FullMode"/> or spills to an overflow store when full, and paces receives with a
/// <see cref="System.Threading.RateLimiting.RateLimiter"/>.
/// </summary>
/// <remarks>
/// <para>
/// Depth counts messages accepted through this buffer and not yet acknowledged or dead-lettered through it, so it
/// includes messages in flight: a slow consumer holds its room until it settles. Depth is two counters, admitted and
/// released, so the common case (room, nobody waiting, no overflow, no byte bound) costs one interlocked increment per
/// publish and one per settle, without the lock: a publish increments admitted, then checks the capacity and takes
/// the increment back if over. It then enqueues to the inner store, giving the room back if the inner store refuses.
/// </para>
/// <para>
/// Everything else (waiting publishes, overflow, byte accounting) runs under the lock, with <c>_slowPath</c> set so
/// settles look there too. Both sides write with a full fence and then read the other's variable (a publish sets
/// <c>_slowPath</c> then re-checks room; a settle increments released then reads <c>_slowPath</c>), so a freed slot is
/// never missed by a waiting publish.
/// </para>
/// <para>
/// Waiting publishers are served in arrival order: room freed by a settle is handed to the first waiter directly
/// (reserved for it under the lock), so a new publish cannot overtake a waiting one and waiters are not woken just to
/// find the room taken.
/// </para>
/// <para>
/// With an overflow store, a publish that finds the buffer full goes to the overflow store instead, and so does every
/// publish while anything is there, so publish order is kept. One background mover takes messages from the overflow
/// store in order as room frees, enqueues them into the buffer, and only then acknowledges them in the overflow store
/// (a crash in between duplicates a message, never loses it).
/// </para>
/// <para>
/// A durable store keeps messages across restarts and may be shared with other processes, whose publishes and acks
/// never pass through these counters. Over one, the buffer also counts what the store holds: at start, and then
/// every <see cref="LoadLevelingDefaults.StoreCountInterval"/> while it is at least half full (see
/// <see cref="DurableDepthCounter{TMessage}"/>). The difference from its own counters is kept as <c>_unseen</c>, part of the depth.
/// </para>
/// </remarks>
internal sealed class LoadLevelingStore<TMessage> : ILoadLevelingStore<TMessage>, LoadLevelingMetrics.IDepthSource, IOverflowMoveTarget<TMessage>, IDepthCountTarget
{
    private readonly IMessageStore<TMessage> _inner;
    private readonly IMessageStore<TMessage>? _overflow;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly long? _capacityBytes;
    private readonly Func<object, long>? _sizeOf;
    private readonly FullMode _fullMode;
    private readonly TimeSpan? _publishTimeout;
    private readonly Action<DroppedMessage>? _onDropped;
    private readonly IOldestReadySource<TMessage>? _oldest;
    private readonly PacedReceiver<TMessage>? _paced;
    private readonly PacingRateLimiter? _pacer;
    private readonly RateSampler _sampler;
    private readonly Lock _lock = new();
    private readonly LinkedList<RoomWaiter> _waiters = new();
    private readonly Dictionary<LeaseToken, LeasedSize>? _leasedSizes;
    private readonly CancellationTokenSource _disposing = new();
    private readonly Task? _overflowCounted;
    private readonly ITimer? _overflowCountTimer;
    private readonly ILogger _logger;
    private readonly OverflowMover<TMessage>? _mover;
    private readonly DurableDepthCounter<TMessage>? _depthCounter;
    private readonly Task _firstStoreCount = Task.CompletedTask;
    private DepthCounters _counters;
    private long _unseen;
    private int _slowPath;
    private long _bytes;
    private long _overflowCount;
    private long _overflowRemoved;
    private int _overflowCounting;
    private bool _overflowCountFailed;
    private Task _overflowRecount = Task.CompletedTask;
    private int _overflowPending;
    private long _moved;
    private long _redriven;
    private long _droppedRemoved;
    private long _dropped;
    private long _rejected;
    private long _totalOverflowed;
    private long _waitTicks;
    private long _waitCount;
    private int _disposed;

    public LoadLevelingStore(
        IMessageStore<TMessage> inner, LoadLevelingOptions options, IMessageStore<TMessage>? overflow, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (ReferenceEquals(inner, overflow))
        {
            throw new ArgumentException("The overflow store must be a different store from the one it overflows.", nameof(overflow));
        }

        OptionsCheck.ThrowIfInvalid(new LoadLevelingOptionsValidator(), inner.Name, options);
        if (LoadLevelingOptionsValidator.CheckDurability(options, inner, overflow) is { } durability)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(inner.Name, typeof(LoadLevelingOptions), [durability]);
        }

        if (options.DroppedBodyType is { } bodyType && bodyType != typeof(TMessage))
        {
            throw new ArgumentException(
                $"{nameof(LoadLevelingOptions.OnDroppedMessage)} was set for {bodyType.Name} bodies, but queue '{inner.Name}' holds {typeof(TMessage).Name}.", nameof(options));
        }

        if (options.FullMode == FullMode.DropOldest)
        {
            _oldest = OldestReadySources.For(inner) ?? throw new Microsoft.Extensions.Options.OptionsValidationException(
                inner.Name,
                typeof(LoadLevelingOptions),
                [
                    $"{nameof(LoadLevelingOptions.FullMode)} {nameof(FullMode.DropOldest)} drops the oldest ready message of the lowest priority level, but the store of queue " +
                    $"'{inner.Name}' ({inner.GetType().Name}) cannot hand that message over without waiting (it is not an {nameof(IOldestReadySource<TMessage>)}<T> nor an in-memory store). " +
                    $"Use {nameof(FullMode.DropNewest)}, {nameof(FullMode.Wait)} or {nameof(FullMode.Reject)}, or a store that offers it.",
                ]);
        }

        // Options are copied once, so changing the options object later does not change a running buffer.
        _inner = inner;
        _overflow = overflow;
        _time = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        _capacity = options.Capacity;
        _capacityBytes = options.CapacityBytes;
        _sizeOf = options.CapacityBytes is null ? null : options.MessageSize;
        _fullMode = options.FullMode;
        _publishTimeout = options.PublishTimeout;
        _onDropped = options.OnDropped;
        if (options.RateLimiter is not null)
        {
            _paced = new PacedReceiver<TMessage>(options.RateLimiter, inner.Name, timeProvider);
        }
        else if (options.MessagesPerSecond is { } rate)
        {
            _pacer = new PacingRateLimiter(rate, options.Burst, timeProvider);
            _paced = new PacedReceiver<TMessage>(_pacer, inner.Name, timeProvider);
        }

        if (_sizeOf is not null)
        {
            // Bytes are counted under the lock, so a byte bound turns the lock-free fast path off.
            _slowPath = 1;
            _leasedSizes = [];
        }

        _sampler = new RateSampler(timeProvider, ReadTotals);
        LoadLevelingMetrics.Register(this);
        if (inner is IDurableMessageStore<TMessage>)
        {
            // Before the overflow tasks start: publishes take the slow path and the mover waits, both for the first
            // count, so what the store already holds counts from the first message in.
            _slowPath = 1;
            _depthCounter = new DurableDepthCounter<TMessage>(inner, this, timeProvider);
            _firstStoreCount = _depthCounter.FirstCount;
        }

        if (overflow is not null)
        {
            _overflowCounted = Task.Run(CountOverflowLeftoversAsync);
            _mover = new OverflowMover<TMessage>(overflow, inner, this, timeProvider, _logger);
            _mover.Start(Task.WhenAll(_overflowCounted, _firstStoreCount));
            _overflowCountTimer = WeakTimer.Start(
                timeProvider, this, static s => s.OnOverflowCountTimer(), LoadLevelingDefaults.StoreCountInterval, LoadLevelingDefaults.StoreCountInterval);
        }
    }

    public string Name => _inner.Name;

    long LoadLevelingMetrics.IDepthSource.Depth => Depth;

    long LoadLevelingMetrics.IDepthSource.OverflowDepth => Volatile.Read(ref _overflowCount);

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        var size = SizeOf(message, nameof(message));
        if (Volatile.Read(ref _slowPath) != 0 || !TryReserveCount(1))
        {
            return EnqueueWhenFullAsync(new SingleMessage(message), 1, size, cancellationToken);
        }

        try
        {
            var enqueue = _inner.EnqueueAsync(message, cancellationToken);
            if (enqueue.IsCompletedSuccessfully)
            {
                Stored(1);
                LoadLevelingMetrics.Arrived(Name, 1);
                return ValueTask.CompletedTask;
            }

            return AwaitEnqueueAsync(enqueue, 1, size);
        }
        catch
        {
            Unreserve(1, size);
            throw;
        }
    }

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        long size = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null)
            {
                throw new ArgumentNullException(nameof(messages), $"The message at index {i} is null.");
            }

            size += SizeOf(messages[i], nameof(messages));
        }

        if (messages.Count > _capacity)
        {
            throw new ArgumentException($"A batch of {messages.Count} messages can never fit in queue '{Name}' of capacity {_capacity}.", nameof(messages));
        }

        if (size > _capacityBytes)
        {
            throw new ArgumentException($"A batch of {size} bytes can never fit in queue '{Name}' of capacity {_capacityBytes} bytes.", nameof(messages));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        if (messages.Count == 0)
        {
            return _inner.EnqueueBatchAsync(messages, cancellationToken);
        }

        if (Volatile.Read(ref _slowPath) != 0 || !TryReserveCount(messages.Count))
        {
            return EnqueueWhenFullAsync(new MessageBatch(messages), messages.Count, size, cancellationToken);
        }

        return EnqueueBatchReservedAsync(messages, size, cancellationToken);
    }

    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ThrowIfDisposed();
        if (_paced is not null)
        {
            return ReceivePacedAsync(buffer, leaseDuration, cancellationToken);
        }

        var receive = _inner.ReceiveAsync(buffer, leaseDuration, cancellationToken);
        if (receive.IsCompletedSuccessfully)
        {
            var received = receive.Result;
            OnReceived(buffer.Span[..received]);
            return new ValueTask<int>(received);
        }

        return AwaitReceiveAsync(receive, buffer);
    }

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        BeginSettle();
        ValueTask<bool> ack;
        try
        {
            ack = _inner.AckAsync(lease, cancellationToken);
        }
        catch
        {
            EndSettle();
            throw;
        }

        if (ack.IsCompletedSuccessfully)
        {
            if (ack.Result)
            {
                Settled(lease, deadLettered: false);
            }

            EndSettle();
            return ack;
        }

        return AwaitSettleAsync(ack, lease, deadLettered: false);
    }

    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        ThrowIfDisposed();
        BeginSettle();
        ValueTask<bool> deadLetter;
        try
        {
            deadLetter = _inner.DeadLetterAsync(lease, reason, cancellationToken);
        }
        catch
        {
            EndSettle();
            throw;
        }

        return AwaitSettleAsync(deadLetter, lease, deadLettered: true);
    }

    public async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ThrowIfDisposed();
        var released = await _inner.ReleaseAsync(lease, delay, cancellationToken).ConfigureAwait(false);
        if (released && _leasedSizes is not null)
        {
            // The message stays in the buffer (its bytes stay counted); its next lease records its size again.
            lock (_lock)
            {
                _leasedSizes.Remove(lease);
            }
        }

        return released;
    }

    public async ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        ThrowIfDisposed();
        var renewed = await _inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken).ConfigureAwait(false);
        if (renewed && _leasedSizes is not null)
        {
            lock (_lock)
            {
                // A renewed lease must outlive the pruning of expired leases, or its bytes would never be given back.
                if (_leasedSizes.TryGetValue(lease, out var leased))
                {
                    _leasedSizes[lease] = leased with { ExpiresTicks = (_time.GetUtcNow() + leaseDuration).UtcTicks };
                }
            }
        }

        return renewed;
    }

    public ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ThrowIfDisposed();
        return _inner.GetDeadLettersAsync(maxCount, cancellationToken);
    }

    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);
    }

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ThrowIfDisposed();
        return _inner.PurgeDeadLettersAsync(filter, cancellationToken);
    }

    public async ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ThrowIfDisposed();

        // Redriven by id, a page at a time, so the buffer counts exactly the messages that came back. An id is
        // redriven once per call: one that fails again and returns to the dead letters is left for a later call.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long redriven = 0;
        string? token = null;
        do
        {
            var page = await _inner.BrowseDeadLettersAsync(filter, batchSize, token, cancellationToken).ConfigureAwait(false);
            var ids = page.Items.Select(d => d.MessageId).Where(seen.Add).ToArray();
            if (ids.Length > 0)
            {
                redriven += await RedriveAsync(ids, cancellationToken).ConfigureAwait(false);
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return redriven;
    }

    public async ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        ThrowIfDisposed();

        // With a byte bound, the redriven messages' bytes count again. They are measured from the dead-letter store
        // rather than remembered from when they were dead-lettered, which would hold memory for every dead letter.
        var (found, size) = _sizeOf is null || messageIds.Count == 0 ? (0, 0L) : await MeasureDeadLettersAsync(messageIds, cancellationToken).ConfigureAwait(false);
        var redriven = await _inner.RedriveAsync(messageIds, cancellationToken).ConfigureAwait(false);
        if (redriven > 0)
        {
            // Redriven messages were accepted once already, so (as in the stores) they may take the buffer past its capacity.
            Interlocked.Add(ref _counters.Admitted, redriven);
            Stored(redriven);
            Interlocked.Add(ref _redriven, redriven);
            if (found > 0)
            {
                lock (_lock)
                {
                    // If a concurrent redrive took some of them, count a share: erring toward full is safe.
                    _bytes += redriven >= found ? size : size * redriven / found;
                }
            }
        }

        return redriven;
    }

    public async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var statistics = await _inner.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);

        // Messages waiting in the overflow store are accepted and not yet delivered: ready, from the caller's view,
        // and the oldest of them may have waited longer than any in memory.
        var overflowed = Volatile.Read(ref _overflowCount);
        var oldest = statistics.OldestReadyAge;
        if (overflowed > 0 && _overflow is not null)
        {
            var spilled = await _overflow.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
            if (spilled.OldestReadyAge is { } age && (oldest is null || age > oldest))
            {
                oldest = age;
            }
        }

        return statistics with { Ready = statistics.Ready + overflowed, OldestReadyAge = oldest };
    }

    public LoadLevelingSnapshot GetSnapshot()
    {
        ThrowIfDisposed();
        long depth, bytes, overflowed;
        int waiting;
        lock (_lock)
        {
            depth = Depth;
            bytes = _bytes;
            overflowed = _overflowCount;
            waiting = _waiters.Count;
        }

        var totals = ReadTotals();
        var (arrivalRate, processingRate, averageWait) = _sampler.Rates(totals);
        return new LoadLevelingSnapshot
        {
            QueueName = Name,
            Timestamp = _time.GetUtcNow(),
            Depth = depth,
            Capacity = _capacity,
            Bytes = _capacityBytes is null ? null : bytes,
            CapacityBytes = _capacityBytes,
            WaitingPublishers = waiting,
            Overflowed = overflowed,
            ArrivalRate = arrivalRate,
            ProcessingRate = processingRate,
            AverageWait = averageWait,
            TotalArrived = totals.Arrived,
            TotalProcessed = totals.Processed,
            Dropped = Interlocked.Read(ref _dropped),
            Rejected = Interlocked.Read(ref _rejected),
            TotalOverflowed = Interlocked.Read(ref _totalOverflowed),
        };
    }

    /// <summary>
    /// Disposes the buffer, its inner store and its overflow store. Waiting publishes and receives fail with
    /// <see cref="ObjectDisposedException"/>. A user-supplied rate limiter is not disposed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        LoadLevelingMetrics.Unregister(this);
        await _disposing.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            var error = new ObjectDisposedException(GetType().Name);
            foreach (var waiter in _waiters)
            {
                waiter.TrySetException(error);
            }

            _waiters.Clear();
        }

        if (_mover is not null)
        {
            // Anything the mover held goes back to the overflow store by its lease.
            await _mover.DisposeAsync().ConfigureAwait(false);
        }

        if (_depthCounter is not null)
        {
            await _depthCounter.DisposeAsync().ConfigureAwait(false);
        }

        if (_overflowCountTimer is not null)
        {
            await _overflowCountTimer.DisposeAsync().ConfigureAwait(false);
            await Volatile.Read(ref _overflowRecount).ConfigureAwait(false);
        }

        _sampler.Dispose();
        _pacer?.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
        if (_overflow is not null)
        {
            await _overflow.DisposeAsync().ConfigureAwait(false);
        }

        _disposing.Dispose();
    }

    private bool MustOverflow => _overflow is not null && (_overflowCount > 0 || _overflowPending > 0);

    private long Depth => Volatile.Read(ref _counters.Admitted) - Volatile.Read(ref _counters.Released) + Volatile.Read(ref _unseen);

    /// <summary>
    /// Takes room for <paramref name="count"/> messages if there is some: increment first, then check, so concurrent
    /// publishes never overfill. A failed attempt inflates the depth for a moment, which may make the lock holder find
    /// no room; so, outside the lock, taking the increment back serves waiters like any freed room.
    /// </summary>
    private bool TryReserveCount(int count, bool underLock = false)
    {
        if (Interlocked.Add(ref _counters.Admitted, count) - Volatile.Read(ref _counters.Released) + Volatile.Read(ref _unseen) <= _capacity)
        {
            return true;
        }

        Interlocked.Add(ref _counters.Admitted, -count);
        if (!underLock)
        {
            AfterRoomFreed(0);
        }

        return false;
    }

    /// <summary>Takes room for messages and bytes (under the lock).</summary>
    private bool TryReserve(int count, long size)
    {
        if (_capacityBytes is { } limit && _bytes + size > limit)
        {
            return false;
        }

        if (!TryReserveCount(count, underLock: true))
        {
            return false;
        }

        _bytes += size;
        return true;
    }

    /// <summary>Hands freed room to waiting publishes in order (under the lock), then updates the fast-path flag.</summary>
    private void ServeWaiters()
    {
        while (_waiters.First is { } first && TryReserve(first.Value.Count, first.Value.Size))
        {
            _waiters.RemoveFirst();
            first.Value.TrySetResult();
        }

        if (_overflowCount > 0)
        {
            SignalMover();
        }

        UpdateSlowPath();
    }

    /// <summary>Sets whether publishes and settles must take the lock (under the lock); a full fence either way.</summary>
    private void UpdateSlowPath() => Interlocked.Exchange(
        ref _slowPath,
        _waiters.Count > 0 || _overflowCount > 0 || _overflowPending > 0 || _sizeOf is not null || _depthCounter is { FirstCountPending: true } ? 1 : 0);

    /// <summary>After room was freed (by a full-fence update of a counter): serve waiters and the mover if any, and give back bytes.</summary>
    private void AfterRoomFreed(long size)
    {
        if (Volatile.Read(ref _slowPath) == 0)
        {
            return;
        }

        lock (_lock)
        {
            _bytes -= size;
            ServeWaiters();
        }
    }

    private void Unreserve(int count, long size)
    {
        Interlocked.Add(ref _counters.Admitted, -count);
        AfterRoomFreed(size);
    }

    private async ValueTask AwaitEnqueueAsync(ValueTask enqueue, int count, long size)
    {
        try
        {
            await enqueue.ConfigureAwait(false);
        }
        catch
        {
            Unreserve(count, size);
            throw;
        }

        Stored(count);
        LoadLevelingMetrics.Arrived(Name, count);
    }

    private async ValueTask EnqueueReservedAsync(Message<TMessage> message, long size, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.EnqueueAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Unreserve(1, size);
            throw;
        }

        Stored(1);
        LoadLevelingMetrics.Arrived(Name, 1);
    }

    private async ValueTask EnqueueBatchReservedAsync(IReadOnlyList<Message<TMessage>> messages, long size, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.EnqueueBatchAsync(messages, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Unreserve(messages.Count, size);
            throw;
        }

        Stored(messages.Count);
        LoadLevelingMetrics.Arrived(Name, messages.Count);
    }

    private ValueTask EnqueueReservedAsync(IPublish publish, long size, CancellationToken cancellationToken) => publish switch
    {
        SingleMessage single => EnqueueReservedAsync(single.Message, size, cancellationToken),
        MessageBatch batch => EnqueueBatchReservedAsync(batch.Messages, size, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(publish)),
    };

    private async ValueTask EnqueueWhenFullAsync(IPublish publish, int count, long size, CancellationToken cancellationToken)
    {
        await _firstStoreCount.WaitAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            FullStep step;
            RoomWaiter? waiter = null;
            lock (_lock)
            {
                ThrowIfDisposed();
                if (_overflow is not null && MustOverflow)
                {
                    // Counted before the enqueue to the overflow store starts, so later publishes queue up behind it.
                    _overflowPending++;
                    UpdateSlowPath();
                    step = FullStep.Spill;
                }
                else if (_waiters.Count == 0 && TryReserve(count, size))
                {
                    step = FullStep.Enqueue;
                }
                else if (_overflow is not null)
                {
                    _overflowPending++;
                    UpdateSlowPath();
                    step = FullStep.Spill;
                }
                else
                {
                    switch (_fullMode)
                    {
                        case FullMode.Wait:
                            waiter = new RoomWaiter(this, count, size);
                            waiter.Node = _waiters.AddLast(waiter);

                            // The flag goes up before the look at room (both full fences): a settle either
                            // frees its room before this look finds it, or sees the flag and serves the waiter.
                            Interlocked.Exchange(ref _slowPath, 1);
                            ServeWaiters();
                            step = FullStep.Wait;
                            break;
                        case FullMode.Reject:
                            Interlocked.Increment(ref _rejected);
                            LoadLevelingMetrics.Rejected(Name);
                            throw new QueueFullException(Name, _capacity, $"the publish was rejected ({nameof(FullMode)}.{nameof(FullMode.Reject)}).");
                        case FullMode.DropNewest:
                            step = FullStep.DropNewest;
                            break;
                        default:
                            step = FullStep.DropOldest;
                            break;
                    }
                }
            }

            switch (step)
            {
                case FullStep.Enqueue:
                    await EnqueueReservedAsync(publish, size, cancellationToken).ConfigureAwait(false);
                    return;
                case FullStep.Spill:
                    await SpillAsync(publish, count, cancellationToken).ConfigureAwait(false);
                    return;
                case FullStep.Wait:
                    await WaitForRoomAsync(waiter!, cancellationToken).ConfigureAwait(false);
                    await EnqueueReservedAsync(publish, size, cancellationToken).ConfigureAwait(false);
                    return;
                case FullStep.DropNewest:
                    Drop(publish, $"dropped: queue '{Name}' was full (capacity {_capacity} messages) and {nameof(FullMode)} is {nameof(FullMode.DropNewest)}.");
                    return;
                default:
                    // Make room by dropping what the store would deliver next, then try again: another publish may take the room first.
                    if (!await TryDropOldestAsync().ConfigureAwait(false))
                    {
                        Drop(publish, $"dropped: queue '{Name}' was full (capacity {_capacity} messages), {nameof(FullMode)} is {nameof(FullMode.DropOldest)}, and every message it held was in flight.");
                        return;
                    }

                    break;
            }
        }
    }

    private async ValueTask SpillAsync(IPublish publish, int count, CancellationToken cancellationToken)
    {
        var overflow = _overflow!;
        try
        {
            await _overflowCounted!.ConfigureAwait(false);
            if (publish is SingleMessage single)
            {
                await overflow.EnqueueAsync(single.Message, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await overflow.EnqueueBatchAsync(((MessageBatch)publish).Messages, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            lock (_lock)
            {
                _overflowPending--;
                UpdateSlowPath();
            }

            throw;
        }

        Interlocked.Add(ref _totalOverflowed, count);
        lock (_lock)
        {
            _overflowPending--;
            _overflowCount += count;
            SignalMover();
            UpdateSlowPath();
        }

        LoadLevelingMetrics.Overflowed(Name, count);
        LoadLevelingMetrics.Arrived(Name, count);
    }

    private async ValueTask WaitForRoomAsync(RoomWaiter waiter, CancellationToken cancellationToken)
    {
        using var timeout = _publishTimeout is { } limit ? new CancellationTokenSource(limit, _time) : null;
        using var cancelled = cancellationToken.UnsafeRegister(static (s, _) => ((RoomWaiter)s!).Owner.CancelWaiter((RoomWaiter)s!), waiter);
        using var timedOut = (timeout?.Token ?? default).UnsafeRegister(static (s, _) => ((RoomWaiter)s!).Owner.CancelWaiter((RoomWaiter)s!), waiter);
        try
        {
            await waiter.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout is { IsCancellationRequested: true })
        {
            Interlocked.Increment(ref _rejected);
            LoadLevelingMetrics.Rejected(Name);
            throw new QueueFullException(
                Name, _capacity, $"it was still full after the publish waited {_publishTimeout} ({nameof(LoadLevelingOptions.PublishTimeout)}).", new TimeoutException());
        }
        catch (OperationCanceledException)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private void CancelWaiter(RoomWaiter waiter)
    {
        lock (_lock)
        {
            // A waiter already handed room keeps it: its publish goes on (and gives the room back if it then fails).
            if (waiter.Node?.List is not null)
            {
                _waiters.Remove(waiter.Node);
                waiter.TrySetCanceled();
                ServeWaiters();
            }
        }
    }

    private async ValueTask<bool> TryDropOldestAsync()
    {
        if (await _oldest!.TryLeaseOldestOfLowestPriorityAsync(LoadLevelingDefaults.InternalLease, CancellationToken.None).ConfigureAwait(false) is not { } delivery)
        {
            return false;
        }

        try
        {
            Report(delivery.Message, $"dropped: queue '{Name}' was full (capacity {_capacity} messages) and {nameof(FullMode)} is {nameof(FullMode.DropOldest)}; this was its oldest message.");
        }
        catch
        {
            // The callback failed: the message is not dropped, it goes back as it was.
            await _inner.ReleaseAsync(delivery.Lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        BeginSettle();
        try
        {
            if (await _inner.AckAsync(delivery.Lease, CancellationToken.None).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _droppedRemoved);
                Interlocked.Increment(ref _counters.Released);
                AfterRoomFreed(SizeOfBody(delivery.Message));
            }
        }
        finally
        {
            EndSettle();
        }

        return true;
    }

    private void Drop(IPublish publish, string reason)
    {
        switch (publish)
        {
            case SingleMessage single:
                Report(single.Message, reason);
                break;
            case MessageBatch batch:
                foreach (var message in batch.Messages)
                {
                    Report(message, reason);
                }

                break;
        }
    }

    private void Report(Message<TMessage> message, string reason)
    {
        _onDropped!(new DroppedMessage<TMessage>(Name, message.Id, message.Priority, message.Headers, message.Body, reason, _time.GetUtcNow()));
        Interlocked.Increment(ref _dropped);
        LoadLevelingMetrics.Dropped(Name);
    }

    private async ValueTask<(int Found, long Size)> MeasureDeadLettersAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken)
    {
        var filter = new DeadLetterFilter { MessageIds = messageIds };
        var found = 0;
        long size = 0;
        string? token = null;
        do
        {
            var page = await _inner.BrowseDeadLettersAsync(filter, LoadLevelingDefaults.MoveBatch, token, cancellationToken).ConfigureAwait(false);
            foreach (var letter in page.Items)
            {
                // A body that could not be read back is not redriven as a message; it has no size to count.
                if (letter.Message is { } message)
                {
                    found++;
                    size += SizeOfBody(message);
                }
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return (found, size);
    }

    private async ValueTask<int> ReceivePacedAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        int received;
        try
        {
            received = await _paced!.ReceiveAsync(_inner, buffer, leaseDuration, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(GetType().Name);
        }

        OnReceived(buffer.Span[..received]);
        return received;
    }

    private async ValueTask<int> AwaitReceiveAsync(ValueTask<int> receive, Memory<Delivery<TMessage>> buffer)
    {
        var received = await receive.ConfigureAwait(false);
        OnReceived(buffer.Span[..received]);
        return received;
    }

    private void OnReceived(ReadOnlySpan<Delivery<TMessage>> deliveries)
    {
        var now = _time.GetUtcNow();
        long waitTicks = 0;
        var waits = 0;
        var record = LoadLevelingMetrics.IsWaitEnabled;
        foreach (var delivery in deliveries)
        {
            if (delivery.DeliveryCount == 1 && delivery.Message.EnqueuedAt != default)
            {
                var wait = now - delivery.Message.EnqueuedAt;
                waitTicks += wait.Ticks;
                waits++;
                if (record)
                {
                    LoadLevelingMetrics.Waited(Name, wait);
                }
            }
        }

        if (waits > 0)
        {
            Interlocked.Add(ref _waitTicks, waitTicks);
            Interlocked.Add(ref _waitCount, waits);
        }

        if (_leasedSizes is not null)
        {
            lock (_lock)
            {
                foreach (var delivery in deliveries)
                {
                    _leasedSizes[delivery.Lease] = new LeasedSize(SizeOfBody(delivery.Message), delivery.LeaseExpiresAt.UtcTicks);
                }

                PruneExpiredLeases(now.UtcTicks);
            }
        }
    }

    /// <summary>
    /// Forgets the sizes of leases that ended without a settle (a consumer that stopped without releasing): their
    /// messages were redelivered under new leases, which recorded the size again. Runs only when the map has grown
    /// well past the depth, so it costs nothing in the common case.
    /// </summary>
    private void PruneExpiredLeases(long nowTicks)
    {
        if (_leasedSizes!.Count <= (2 * Depth) + 64)
        {
            return;
        }

        foreach (var (lease, leased) in _leasedSizes)
        {
            if (leased.ExpiresTicks < nowTicks)
            {
                _leasedSizes.Remove(lease);
            }
        }
    }

    /// <summary>Awaits a settle started after <see cref="BeginSettle"/>, and counts it if it ended a lease.</summary>
    private async ValueTask<bool> AwaitSettleAsync(ValueTask<bool> settle, LeaseToken lease, bool deadLettered)
    {
        try
        {
            var settled = await settle.ConfigureAwait(false);
            if (settled)
            {
                Settled(lease, deadLettered);
            }

            return settled;
        }
        finally
        {
            EndSettle();
        }
    }

    private void Settled(LeaseToken lease, bool deadLettered)
    {
        long size = 0;
        if (_leasedSizes is not null)
        {
            lock (_lock)
            {
                if (_leasedSizes.Remove(lease, out var leased))
                {
                    size = leased.Size;
                }
            }
        }

        Interlocked.Increment(ref _counters.Released);
        AfterRoomFreed(size);
        LoadLevelingMetrics.Processed(Name);
    }

    private void SignalMover() => _mover?.Signal();

    /// <summary>Counts messages the store now holds because this buffer enqueued them (over a durable store only).</summary>
    private void Stored(int count) => _depthCounter?.Stored(count);

    /// <summary>Marks a settle under way in the store, not yet counted as released (over a durable store only).</summary>
    private void BeginSettle() => _depthCounter?.BeginSettle();

    /// <summary>Ends what <see cref="BeginSettle"/> began, after the settle was counted (or failed).</summary>
    private void EndSettle() => _depthCounter?.EndSettle();

    /// <inheritdoc/>
    bool IDepthCountTarget.CountDue
    {
        get
        {
            lock (_lock)
            {
                return Depth * 2 >= _capacity || _waiters.Count > 0 || _overflowCount > 0;
            }
        }
    }

    /// <inheritdoc/>
    long IDepthCountTarget.Released => Volatile.Read(ref _counters.Released);

    /// <inheritdoc/>
    void IDepthCountTarget.Recounted(long heldMinusStored)
    {
        lock (_lock)
        {
            Volatile.Write(ref _unseen, heldMinusStored + Volatile.Read(ref _counters.Released));

            // The depth may have dropped (another process acked): hand the room on, as a settle would.
            ServeWaiters();
        }
    }

    /// <inheritdoc/>
    void IDepthCountTarget.FirstCountDone()
    {
        lock (_lock)
        {
            UpdateSlowPath();
        }
    }

    private async Task CountOverflowLeftoversAsync()
    {
        long left = 0;
        try
        {
            // Messages a durable overflow store kept from an earlier run are accepted messages too: they drain first.
            // Spills wait for this count, so it cannot include them.
            var statistics = await _overflow!.GetStatisticsAsync(_disposing.Token).ConfigureAwait(false);
            left = statistics.Ready + statistics.Delayed + statistics.InFlight;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not counted: leftovers then move only when later spills make room for them, and nothing is lost.
        }

        lock (_lock)
        {
            // With leftovers, settles must take the slow path, which signals the mover: the buffer may be full by
            // now, and only freed room would then start moving them.
            _overflowCount += left;
            UpdateSlowPath();
        }
    }

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.RemovedFromOverflow()
    {
        lock (_lock)
        {
            _overflowCount = Math.Max(0, _overflowCount - 1);
            _overflowRemoved++;
            UpdateSlowPath();
        }
    }

    /// <inheritdoc/>
    long IOverflowMoveTarget<TMessage>.RoomForMoves()
    {
        lock (_lock)
        {
            return Math.Min(_capacity - Depth, _overflowCount);
        }
    }

    /// <inheritdoc/>
    bool IOverflowMoveTarget<TMessage>.TryReserveMove(long size)
    {
        lock (_lock)
        {
            return TryReserve(1, size);
        }
    }

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.UnreserveMove(long size) => Unreserve(1, size);

    /// <inheritdoc/>
    long IOverflowMoveTarget<TMessage>.SizeOf(Message<TMessage> message) => SizeOfBody(message);

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.Moved()
    {
        Stored(1);
        Interlocked.Increment(ref _moved);
    }

    private void OnOverflowCountTimer()
    {
        if (_disposing.IsCancellationRequested || !_overflowCounted!.IsCompleted)
        {
            return;
        }

        lock (_lock)
        {
            if (_overflowCount == 0 && !_overflowCountFailed)
            {
                return;
            }
        }

        if (Interlocked.Exchange(ref _overflowCounting, 1) == 0)
        {
            var count = RecountOverflowAsync();
            Volatile.Write(ref _overflowRecount, count);
            count.ContinueWith(
                static (_, s) => Volatile.Write(ref ((LoadLevelingStore<TMessage>)s!)._overflowCounting, 0),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Sets the overflow count from what the overflow store holds, as the durable depth is recounted: messages another
    /// process moved, or that the overflow store dead-lettered itself, would otherwise keep the count above zero and
    /// every publish spilling.
    /// </summary>
    /// <remarks>
    /// Spills that completed after the count was asked for are added (one that crossed it may be counted twice), and
    /// removals after it answered are taken off (one that crossed it may not be): the count may err high until the
    /// next one, which only keeps publishes spilling a little longer, never low, which would let a publish overtake
    /// an older message still in the overflow store.
    /// </remarks>
    private async Task RecountOverflowAsync()
    {
        try
        {
            var spilledBefore = Volatile.Read(ref _totalOverflowed);
            var statistics = await _overflow!.GetStatisticsAsync(_disposing.Token).ConfigureAwait(false);
            var held = statistics.Ready + statistics.Delayed + statistics.InFlight;
            var removedBefore = Volatile.Read(ref _overflowRemoved);
            lock (_lock)
            {
                var spilledSince = Volatile.Read(ref _totalOverflowed) - spilledBefore;
                _overflowCount = Math.Max(0, held + spilledSince - (_overflowRemoved - removedBefore));
                _overflowCountFailed = false;
                if (_overflowCount > 0)
                {
                    SignalMover();
                }

                UpdateSlowPath();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (!_disposing.IsCancellationRequested)
            {
                LoadLevelingLog.OverflowCountFailed(_logger, ex, Name);
            }

            lock (_lock)
            {
                _overflowCountFailed = true;
            }
        }
    }

    /// <summary>
    /// Arrivals are admissions other than moves from overflow and redrives, plus spills; processed are releases other
    /// than drops. Deriving them keeps the hot path at one interlocked operation per publish and per settle.
    /// </summary>
    private RateSampler.Totals ReadTotals() => new(
        Volatile.Read(ref _counters.Admitted) - Volatile.Read(ref _moved) - Volatile.Read(ref _redriven) + Volatile.Read(ref _totalOverflowed),
        Volatile.Read(ref _counters.Released) - Volatile.Read(ref _droppedRemoved),
        Volatile.Read(ref _waitTicks),
        Volatile.Read(ref _waitCount));

    private long SizeOf(Message<TMessage> message, string paramName)
    {
        if (_sizeOf is null)
        {
            return 0;
        }

        var size = SizeOfBody(message);
        if (size > _capacityBytes)
        {
            throw new ArgumentException($"A message of {size} bytes can never fit in queue '{Name}' of capacity {_capacityBytes} bytes.", paramName);
        }

        return size;
    }

    private long SizeOfBody(Message<TMessage> message)
    {
        if (_sizeOf is null)
        {
            return 0;
        }

        var size = _sizeOf(message.Body!);
        if (size < 0)
        {
            throw new InvalidOperationException($"{nameof(LoadLevelingOptions.MessageSize)} returned {size} for message '{message.Id}' of queue '{Name}'; sizes must be at least 0.");
        }

        return size;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);

    private enum FullStep
    {
        Enqueue,
        Spill,
        Wait,
        DropNewest,
        DropOldest,
    }

    /// <summary>A publish on its way through the slow path: one message or a batch.</summary>
    private interface IPublish;

    private sealed record SingleMessage(Message<TMessage> Message) : IPublish;

    private sealed record MessageBatch(IReadOnlyList<Message<TMessage>> Messages) : IPublish;

    private readonly record struct LeasedSize(long Size, long ExpiresTicks);

    private sealed class RoomWaiter(LoadLevelingStore<TMessage> owner, int count, long size) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public LoadLevelingStore<TMessage> Owner { get; } = owner;

        public int Count { get; } = count;

        public long Size { get; } = size;

        public LinkedListNode<RoomWaiter>? Node { get; set; }
    }
}
