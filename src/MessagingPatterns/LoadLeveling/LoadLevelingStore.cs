using MessagingPatterns.Diagnostics;
using MessagingPatterns.LoadLeveling.FullModes;
using MessagingPatterns.Pacing;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The load-leveling buffer: a decorator over any store that bounds what the store holds with a
/// <see cref="CapacityGate"/>, hands a publish that finds it full to a <see cref="FullModePolicy{TMessage}"/> (one per
/// <see cref="FullMode"/>, or spilling to an overflow store), and, when the options set a rate, receives through the
/// pacing decorator (<see cref="PacedStore{TMessage}"/>) over the same store. This type only composes those parts.
/// </summary>
/// <remarks>
/// <para>
/// Depth counts messages accepted through this buffer and not yet acknowledged or dead-lettered through it, so it
/// includes messages in flight: a slow consumer holds its room until it settles. A publish takes room first and then
/// enqueues to the inner store, giving the room back if the inner store refuses.
/// </para>
/// <para>
/// A durable store keeps messages across restarts and may be shared with other processes, whose publishes and acks
/// never pass through the gate. Over one, a <see cref="DurableDepthCounter{TMessage}"/> counts what the store holds, at
/// start and then while the buffer is at least half full, and the gate keeps the difference as part of the depth.
/// </para>
/// </remarks>
internal sealed class LoadLevelingStore<TMessage>
    : ILoadLevelingStore<TMessage>, LoadLevelingMetrics.IDepthSource, IDepthCountTarget, ICapacityGateListener, IDroppedMessageRemover<TMessage>
{
    private readonly IMessageStore<TMessage> _inner;

    // The store receives come from: the pacing decorator over the inner store when the options set a rate, else the
    // inner store itself. Disposing it disposes the inner store.
    private readonly IMessageStore<TMessage> _receiveFrom;
    private readonly TimeProvider _time;
    private readonly LoadLevelingMetrics _metrics;
    private readonly CapacityGate _gate;
    private readonly MessageSizer<TMessage> _sizer;
    private readonly LeasedSizes<TMessage>? _leasedSizes;
    private readonly LoadLevelingTotals _totals;
    private readonly FullModePolicy<TMessage> _fullMode;
    private readonly SpillFullMode<TMessage>? _spill;
    private readonly DurableDepthCounter<TMessage>? _depthCounter;
    private readonly Task _firstStoreCount = Task.CompletedTask;
    private readonly DeadLetterRedrive<TMessage> _redrive;
    private readonly RateSampler _sampler;
    private int _disposed;

    public LoadLevelingStore(
        IMessageStore<TMessage> inner,
        LoadLevelingOptions options,
        IMessageStore<TMessage>? overflow,
        TimeProvider timeProvider,
        ILogger? logger = null,
        MessagingInstruments? instruments = null)
    {
        LoadLevelingConfigurationCheck.ThrowIfInvalid(inner, options, overflow, timeProvider);
        logger = logger is null ? null : StoreRedaction.Logger(logger, options.Redact);

        // Options are copied once, so changing the options object later does not change a running buffer.
        _inner = inner;
        Name = inner.Name;
        _time = timeProvider;
        _gate = new CapacityGate(options.Capacity, options.CapacityBytes);
        _sizer = new MessageSizer<TMessage>(inner.Name, options.CapacityBytes is null ? null : options.MessageSize, options.CapacityBytes);
        _leasedSizes = _sizer.IsCounting ? new LeasedSizes<TMessage>(_sizer) : null;
        _metrics = (instruments ?? MessagingInstruments.Shared).LoadLeveling;
        _totals = new LoadLevelingTotals(inner.Name, _metrics);
        if (inner is IDurableMessageStore<TMessage>)
        {
            // Before publishes start: they take the slow path and wait for the first count, so what the store already
            // holds counts from the first message in.
            _depthCounter = new DurableDepthCounter<TMessage>(inner, this, timeProvider, logger);
            _firstStoreCount = _depthCounter.FirstCount;
        }

        if (overflow is not null)
        {
            _spill = new SpillFullMode<TMessage>(overflow, inner, _gate, _sizer, _totals, _depthCounter, timeProvider, logger ?? NullLogger.Instance, options.Redact);
            _fullMode = _spill;
        }
        else
        {
            _fullMode = CreateFullMode(options);
        }

        // After the full mode, which may refuse the store: nothing to undo then.
        _receiveFrom = options.ToPacingOptions() is { } pacing ? PacedStore<TMessage>.Create(inner, pacing, timeProvider) : inner;
        _redrive = new DeadLetterRedrive<TMessage>(inner, _gate, _sizer, _totals, _depthCounter);
        _gate.Listen(this);
        _spill?.Start(_firstStoreCount);
        _sampler = new RateSampler(timeProvider, () => _totals.Read(_gate));
        _metrics.Register(this);
    }

    // Kept, rather than asked of the inner store on every publish and settle for the metrics' tag.
    public string Name { get; }

    public string MessagingSystem => _inner.MessagingSystem;

    long LoadLevelingMetrics.IDepthSource.Depth => _gate.Depth;

    long LoadLevelingMetrics.IDepthSource.OverflowDepth => _spill?.Count ?? 0;

    /// <inheritdoc/>
    bool ICapacityGateListener.KeepsSlowPath => _spill is { KeepsSlowPath: true } || _depthCounter is { FirstCountPending: true };

    /// <inheritdoc/>
    bool IDepthCountTarget.CountDue
    {
        get
        {
            lock (_gate.SyncRoot)
            {
                return _gate.Depth * 2 >= _gate.Capacity || _gate.Waiting > 0 || _spill is { Count: > 0 };
            }
        }
    }

    /// <inheritdoc/>
    long IDepthCountTarget.Released => _gate.Released;

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        var size = _sizer.SizeOfPublished(message, nameof(message));
        if (!_gate.TryEnter(1))
        {
            return EnqueueWhenFullAsync(new PendingPublish<TMessage>(message, size), cancellationToken);
        }

        ValueTask enqueue;
        try
        {
            enqueue = _inner.EnqueueAsync(message, cancellationToken);
        }
        catch
        {
            _gate.Unreserve(1, size);
            throw;
        }

        if (enqueue.IsCompletedSuccessfully)
        {
            Stored(1);
            return ValueTask.CompletedTask;
        }

        return AwaitEnqueueAsync(enqueue, 1, size);
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

            size += _sizer.SizeOfPublished(messages[i], nameof(messages));
        }

        if (messages.Count > _gate.Capacity)
        {
            throw new ArgumentException($"A batch of {messages.Count} messages can never fit in queue '{Name}' of capacity {_gate.Capacity}.", nameof(messages));
        }

        if (size > _gate.CapacityBytes)
        {
            throw new ArgumentException($"A batch of {size} bytes can never fit in queue '{Name}' of capacity {_gate.CapacityBytes} bytes.", nameof(messages));
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

        var publish = new PendingPublish<TMessage>(messages, size);
        return _gate.TryEnter(messages.Count) ? EnqueueReservedAsync(publish, cancellationToken) : EnqueueWhenFullAsync(publish, cancellationToken);
    }

    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ThrowIfDisposed();
        var receive = _receiveFrom.ReceiveAsync(buffer, leaseDuration, cancellationToken);
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

        if (!ack.IsCompletedSuccessfully)
        {
            return AwaitSettleAsync(ack, lease);
        }

        if (ack.Result)
        {
            Settled(lease);
        }

        EndSettle();
        return ack;
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

        return AwaitSettleAsync(deadLetter, lease);
    }

    public async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ThrowIfDisposed();
        var released = await _inner.ReleaseAsync(lease, delay, cancellationToken).ConfigureAwait(false);
        if (released)
        {
            _leasedSizes?.Released(lease);
        }

        return released;
    }

    public async ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        ThrowIfDisposed();
        var renewed = await _inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken).ConfigureAwait(false);
        if (renewed)
        {
            // A renewed lease must outlive the pruning of expired leases, or its bytes would never be given back.
            _leasedSizes?.Renewed(lease, (_time.GetUtcNow() + leaseDuration).UtcTicks);
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

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ThrowIfDisposed();
        return _redrive.RedriveMatchingAsync(filter, batchSize, cancellationToken);
    }

    public ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        ThrowIfDisposed();
        return _redrive.RedriveAsync(messageIds, cancellationToken);
    }

    public async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var statistics = await _inner.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);

        // Messages waiting in the overflow store are accepted and not yet delivered: ready, from the caller's view,
        // and the oldest of them may have waited longer than any in memory.
        var spilled = _spill?.Count ?? 0;
        var oldest = statistics.OldestReadyAge;
        if (spilled > 0)
        {
            var overflow = await _spill!.Overflow.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
            if (overflow.OldestReadyAge is { } age && (oldest is null || age > oldest))
            {
                oldest = age;
            }
        }

        return statistics with { Ready = statistics.Ready + spilled, OldestReadyAge = oldest };
    }

    public LoadLevelingSnapshot GetSnapshot()
    {
        ThrowIfDisposed();
        long depth, bytes, overflowed;
        int waiting;
        lock (_gate.SyncRoot)
        {
            depth = _gate.Depth;
            bytes = _gate.Bytes;
            overflowed = _spill?.Count ?? 0;
            waiting = _gate.Waiting;
        }

        var totals = _totals.Read(_gate);
        var (arrivalRate, processingRate, averageWait) = _sampler.Rates(totals);
        return new LoadLevelingSnapshot
        {
            QueueName = Name,
            Timestamp = _time.GetUtcNow(),
            Depth = depth,
            Capacity = _gate.Capacity,
            Bytes = _gate.CapacityBytes is null ? null : bytes,
            CapacityBytes = _gate.CapacityBytes,
            WaitingPublishers = waiting,
            Overflowed = overflowed,
            ArrivalRate = arrivalRate,
            ProcessingRate = processingRate,
            AverageWait = averageWait,
            TotalArrived = totals.Arrived,
            TotalProcessed = totals.Processed,
            Dropped = _totals.Dropped,
            Rejected = _totals.Rejected,
            TotalOverflowed = _totals.Overflowed,
        };
    }

    /// <summary>
    /// Disposes the buffer, its pacing decorator, its inner store and its overflow store, each once. Waiting publishes
    /// and receives fail with <see cref="ObjectDisposedException"/>. A user-supplied rate limiter is not disposed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _metrics.Unregister(this);
        _gate.Close(this);
        if (_spill is not null)
        {
            // Anything the mover held goes back to the overflow store by its lease.
            await _spill.StopAsync().ConfigureAwait(false);
        }

        if (_depthCounter is not null)
        {
            await _depthCounter.DisposeAsync().ConfigureAwait(false);
        }

        _sampler.Dispose();

        // The pacing decorator, if any, fails its waiting receives and then disposes the inner store.
        await _receiveFrom.DisposeAsync().ConfigureAwait(false);
        if (_spill is not null)
        {
            await _spill.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    void ICapacityGateListener.RoomFreed() => _spill?.RoomFreed();

    /// <inheritdoc/>
    void IDepthCountTarget.Recounted(long heldMinusStored) => _gate.Recounted(heldMinusStored);

    /// <inheritdoc/>
    void IDepthCountTarget.FirstCountDone()
    {
        lock (_gate.SyncRoot)
        {
            _gate.UpdateSlowPath();
        }
    }

    /// <inheritdoc/>
    async ValueTask IDroppedMessageRemover<TMessage>.RemoveDroppedAsync(Delivery<TMessage> delivery)
    {
        BeginSettle();
        try
        {
            if (await _inner.AckAsync(delivery.Lease, CancellationToken.None).ConfigureAwait(false))
            {
                _totals.DroppedRemoved();
                _gate.Release(1, _sizer.SizeOf(delivery.Message));
            }
        }
        finally
        {
            EndSettle();
        }
    }

    private FullModePolicy<TMessage> CreateFullMode(LoadLevelingOptions options) => options.FullMode switch
    {
        FullMode.Reject => new RejectFullMode<TMessage>(Name, options.Capacity, _totals),
        FullMode.DropNewest => new DropNewestFullMode<TMessage>(Name, options.Capacity, Reporter(options)),
        FullMode.DropOldest => new DropOldestFullMode<TMessage>(_inner, options.Capacity, Reporter(options), this),
        _ => new WaitFullMode<TMessage>(_gate, Name, options.PublishTimeout, _time, _totals),
    };

    private DropReporter<TMessage> Reporter(LoadLevelingOptions options) =>
        new(Name, options.OnDropped!, _time, _totals); // The validator requires it with a drop mode.

    private async ValueTask EnqueueWhenFullAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        await _firstStoreCount.WaitAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            bool reserved;
            lock (_gate.SyncRoot)
            {
                ThrowIfDisposed();
                reserved = !_fullMode.TakesPublishFirst && _gate.TryReserveInOrder(publish.Count, publish.Size);
            }

            var outcome = reserved ? FullModeOutcome.Reserved : await _fullMode.HandleAsync(publish, cancellationToken).ConfigureAwait(false);
            if (outcome == FullModeOutcome.Reserved)
            {
                await EnqueueReservedAsync(publish, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (outcome == FullModeOutcome.Done)
            {
                return;
            }
        }
    }

    private async ValueTask EnqueueReservedAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        try
        {
            await publish.EnqueueAsync(_inner, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _gate.Unreserve(publish.Count, publish.Size);
            throw;
        }

        Stored(publish.Count);
    }

    private async ValueTask AwaitEnqueueAsync(ValueTask enqueue, int count, long size)
    {
        try
        {
            await enqueue.ConfigureAwait(false);
        }
        catch
        {
            _gate.Unreserve(count, size);
            throw;
        }

        Stored(count);
    }

    private async ValueTask<int> AwaitReceiveAsync(ValueTask<int> receive, Memory<Delivery<TMessage>> buffer)
    {
        var received = await receive.ConfigureAwait(false);
        OnReceived(buffer.Span[..received]);
        return received;
    }

    private void OnReceived(ReadOnlySpan<Delivery<TMessage>> deliveries)
    {
        _totals.Received(deliveries, _time);
        if (_leasedSizes is not null && deliveries.Length > 0)
        {
            _leasedSizes.Leased(deliveries, LoadLevelingTotals.GrantedAt(deliveries[0], _time).UtcTicks, _gate.Depth);
        }
    }

    /// <summary>Awaits a settle started after <see cref="BeginSettle"/>, and counts it if it ended a lease.</summary>
    private async ValueTask<bool> AwaitSettleAsync(ValueTask<bool> settle, LeaseToken lease)
    {
        try
        {
            var settled = await settle.ConfigureAwait(false);
            if (settled)
            {
                Settled(lease);
            }

            return settled;
        }
        finally
        {
            EndSettle();
        }
    }

    private void Settled(LeaseToken lease)
    {
        _gate.Release(1, _leasedSizes?.Settled(lease) ?? 0);
        _metrics.Processed(Name);
    }

    /// <summary>Counts messages the store now holds because this buffer enqueued them, and their arrival.</summary>
    private void Stored(int count)
    {
        _depthCounter?.Stored(count);
        _metrics.Arrived(Name, count);
    }

    /// <summary>Marks a settle under way in the store, not yet counted as released (over a durable store only).</summary>
    private void BeginSettle() => _depthCounter?.BeginSettle();

    /// <summary>Ends what <see cref="BeginSettle"/> began, after the settle was counted (or failed).</summary>
    private void EndSettle() => _depthCounter?.EndSettle();

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
}
