using Microsoft.Extensions.Logging;

namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>
/// Spilling to an overflow store: a publish that finds the buffer full goes to the overflow store instead, and so does
/// every publish while anything is there, so publish order is kept. An <see cref="OverflowMover{TMessage}"/> moves
/// them back in order as room frees.
/// </summary>
/// <remarks>
/// The overflow count (what the overflow store holds) is kept under the capacity gate's lock: while it is above zero,
/// publishes and settles take the slow path, and freed room wakes the mover. It is seeded from the overflow store at
/// start (messages left from an earlier run drain first) and recounted every
/// <see cref="LoadLevelingDefaults.StoreCountInterval"/> while above zero, as the durable depth is, so messages another
/// process moved or that the overflow store dead-lettered itself cannot keep every publish spilling.
/// </remarks>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class SpillFullMode<TMessage> : FullModePolicy<TMessage>, IOverflowMoveTarget<TMessage>, IAsyncDisposable
{
    private readonly IMessageStore<TMessage> _overflow;
    private readonly CapacityGate _gate;
    private readonly MessageSizer<TMessage> _sizer;
    private readonly LoadLevelingTotals _totals;
    private readonly DurableDepthCounter<TMessage>? _depthCounter;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OverflowMover<TMessage> _mover;
    private readonly CancellationTokenSource _disposing = new();
    private Task _counted = Task.CompletedTask;
    private ITimer? _countTimer;
    private Task _recount = Task.CompletedTask;
    private int _counting;
    private bool _countFailed;
    private long _count;
    private long _removed;
    private int _pending;

    /// <summary>Creates the policy; it counts and moves once <see cref="Start"/> is called.</summary>
    public SpillFullMode(
        IMessageStore<TMessage> overflow,
        IMessageStore<TMessage> queue,
        CapacityGate gate,
        MessageSizer<TMessage> sizer,
        LoadLevelingTotals totals,
        DurableDepthCounter<TMessage>? depthCounter,
        TimeProvider timeProvider,
        ILogger logger,
        Func<string, string>? redact = null)
    {
        _overflow = overflow;
        _gate = gate;
        _sizer = sizer;
        _totals = totals;
        _depthCounter = depthCounter;
        _time = timeProvider;
        _logger = logger;
        Name = queue.Name;
        _mover = new OverflowMover<TMessage>(overflow, queue, this, timeProvider, logger, totals.Metrics, redact);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Gets how many messages the overflow store holds, as far as this buffer knows.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>The durable store the buffer spills into.</summary>
    public IMessageStore<TMessage> Overflow => _overflow;

    /// <summary>Gets whether publishes and settles must take the slow path (under the gate's lock).</summary>
    public bool KeepsSlowPath => _count > 0 || _pending > 0;

    /// <inheritdoc/>
    public override bool TakesPublishFirst => KeepsSlowPath;

    /// <summary>Counts what the overflow store kept from an earlier run, and starts the mover once that and <paramref name="ready"/> are done.</summary>
    public void Start(Task ready)
    {
        _counted = Task.Run(CountLeftoversAsync);
        _mover.Start(Task.WhenAll(_counted, ready));
        _countTimer = WeakTimer.Start(_time, this, static s => s.OnCountTimer(), LoadLevelingDefaults.StoreCountInterval, LoadLevelingDefaults.StoreCountInterval);
    }

    /// <summary>Wakes the mover if anything waits to move (under the gate's lock, after room may have freed).</summary>
    public void RoomFreed()
    {
        if (_count > 0)
        {
            _mover.Signal();
        }
    }

    /// <inheritdoc/>
    public override async ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        lock (_gate.SyncRoot)
        {
            // Counted before the enqueue to the overflow store starts, so later publishes queue up behind it.
            _pending++;
            _gate.UpdateSlowPath();
        }

        try
        {
            // Spills wait for the count of leftovers, so it cannot include them.
            await _counted.ConfigureAwait(false);
            await publish.EnqueueAsync(_overflow, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate.SyncRoot)
            {
                _pending--;
                _gate.UpdateSlowPath();
            }

            throw;
        }

        _totals.Spilled(publish.Count);
        lock (_gate.SyncRoot)
        {
            _pending--;
            _count += publish.Count;
            _mover.Signal();
            _gate.UpdateSlowPath();
        }

        return FullModeOutcome.Done;
    }

    /// <summary>Stops the mover and the recounts; anything the mover held goes back to the overflow store by its lease.</summary>
    public async ValueTask StopAsync()
    {
        await _disposing.CancelAsync().ConfigureAwait(false);
        await _mover.DisposeAsync().ConfigureAwait(false);
        if (_countTimer is not null)
        {
            await _countTimer.DisposeAsync().ConfigureAwait(false);
        }

        await Volatile.Read(ref _recount).ConfigureAwait(false);
    }

    /// <summary>Stops, then disposes the overflow store.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _overflow.DisposeAsync().ConfigureAwait(false);
        _disposing.Dispose();
    }

    /// <inheritdoc/>
    long IOverflowMoveTarget<TMessage>.RoomForMoves()
    {
        lock (_gate.SyncRoot)
        {
            return Math.Min(_gate.Capacity - _gate.Depth, _count);
        }
    }

    /// <inheritdoc/>
    bool IOverflowMoveTarget<TMessage>.TryReserveMove(long size)
    {
        lock (_gate.SyncRoot)
        {
            return _gate.TryReserve(1, size);
        }
    }

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.UnreserveMove(long size) => _gate.Unreserve(1, size);

    /// <inheritdoc/>
    long IOverflowMoveTarget<TMessage>.SizeOf(Message<TMessage> message) => _sizer.SizeOf(message);

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.Moved()
    {
        _depthCounter?.Stored(1);
        _totals.Moved();
    }

    /// <inheritdoc/>
    void IOverflowMoveTarget<TMessage>.RemovedFromOverflow()
    {
        lock (_gate.SyncRoot)
        {
            _count = Math.Max(0, _count - 1);
            _removed++;
            _gate.UpdateSlowPath();
        }
    }

    private async Task CountLeftoversAsync()
    {
        long left = 0;
        try
        {
            var statistics = await _overflow.GetStatisticsAsync(_disposing.Token).ConfigureAwait(false);
            left = statistics.Ready + statistics.Delayed + statistics.InFlight;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not counted: leftovers then move only when later spills make room for them, and nothing is lost.
            LoadLevelingLog.OverflowLeftoversCountFailed(_logger, ex, Name);
        }

        lock (_gate.SyncRoot)
        {
            // With leftovers, settles must take the slow path, which signals the mover: the buffer may be full by
            // now, and only freed room would then start moving them.
            _count += left;
            _gate.UpdateSlowPath();
        }
    }

    private void OnCountTimer()
    {
        if (_disposing.IsCancellationRequested || !_counted.IsCompleted)
        {
            return;
        }

        lock (_gate.SyncRoot)
        {
            if (_count == 0 && !_countFailed)
            {
                return;
            }
        }

        if (Interlocked.Exchange(ref _counting, 1) == 0)
        {
            var count = RecountAsync();
            Volatile.Write(ref _recount, count);
            count.ContinueWith(
                static (_, s) => Volatile.Write(ref ((SpillFullMode<TMessage>)s!)._counting, 0),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>Sets the overflow count from what the overflow store holds.</summary>
    /// <remarks>
    /// Spills that completed after the count was asked for are added (one that crossed it may be counted twice), and
    /// removals after it answered are taken off (one that crossed it may not be): the count may err high until the
    /// next one, which only keeps publishes spilling a little longer, never low, which would let a publish overtake
    /// an older message still in the overflow store.
    /// </remarks>
    private async Task RecountAsync()
    {
        try
        {
            var spilledBefore = _totals.Overflowed;
            var statistics = await _overflow.GetStatisticsAsync(_disposing.Token).ConfigureAwait(false);
            var held = statistics.Ready + statistics.Delayed + statistics.InFlight;
            var removedBefore = Volatile.Read(ref _removed);
            lock (_gate.SyncRoot)
            {
                var spilledSince = _totals.Overflowed - spilledBefore;
                _count = Math.Max(0, held + spilledSince - (_removed - removedBefore));
                _countFailed = false;
                RoomFreed();
                _gate.UpdateSlowPath();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (!_disposing.IsCancellationRequested)
            {
                LoadLevelingLog.OverflowCountFailed(_logger, ex, Name);
            }

            lock (_gate.SyncRoot)
            {
                _countFailed = true;
            }
        }
    }
}
