namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The room of a bounded buffer: how many messages (and optionally bytes) it holds, against its capacity, and the
/// publishes waiting for room, served in arrival order.
/// </summary>
/// <remarks>
/// <para>
/// Depth is two counters, admitted and released, so the common case (room, nobody waiting, no byte bound) costs one
/// interlocked increment per publish and one per settle, without the lock: a publish increments admitted, then checks
/// the capacity and takes the increment back if over.
/// </para>
/// <para>
/// Everything else (waiting publishes, byte accounting, and whatever the <see cref="ICapacityGateListener"/> needs)
/// runs under the lock, with the slow-path flag set so settles look there too. Both sides write with a full fence and
/// then read the other's variable (a waiting publish sets the flag then re-checks room; a settle increments released
/// then reads the flag), so a freed slot is never missed by a waiting publish.
/// </para>
/// <para>
/// Room freed by a settle is handed to the first waiter directly (reserved for it under the lock), so a new publish
/// cannot overtake a waiting one and waiters are not woken just to find the room taken.
/// </para>
/// </remarks>
internal sealed class CapacityGate
{
    private readonly LinkedList<RoomWaiter> _waiters = new();
    private ICapacityGateListener? _listener;
    private DepthCounters _counters;
    private long _unseen;
    private int _slowPath;
    private long _bytes;
    private object? _closedBy;

    /// <summary>Creates a gate for <paramref name="capacity"/> messages and, if given, <paramref name="capacityBytes"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is less than 1.</exception>
    public CapacityGate(int capacity, long? capacityBytes = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (capacityBytes is { } bytes)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1, nameof(capacityBytes));

            // Bytes are counted under the lock, so a byte bound turns the lock-free fast path off.
            _slowPath = 1;
        }

        Capacity = capacity;
        CapacityBytes = capacityBytes;
    }

    /// <summary>Gets the lock that guards the slow path; a listener's own state may share it.</summary>
    public Lock SyncRoot { get; } = new();

    /// <summary>Gets the capacity in messages.</summary>
    public int Capacity { get; }

    /// <summary>Gets the capacity in bytes, if bytes are bounded.</summary>
    public long? CapacityBytes { get; }

    /// <summary>Gets the messages admitted and not yet released, plus those a recount found beside them.</summary>
    public long Depth => Volatile.Read(ref _counters.Admitted) - Volatile.Read(ref _counters.Released) + Volatile.Read(ref _unseen);

    /// <summary>Gets the messages admitted so far (publishes, moves, redrives), less the admissions taken back.</summary>
    public long Admitted => Volatile.Read(ref _counters.Admitted);

    /// <summary>Gets the messages released so far (acknowledged, dead-lettered or dropped).</summary>
    public long Released => Volatile.Read(ref _counters.Released);

    /// <summary>Gets the bytes held (0 without a byte bound).</summary>
    public long Bytes
    {
        get
        {
            lock (SyncRoot)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Gets how many publishes wait for room.</summary>
    public int Waiting
    {
        get
        {
            lock (SyncRoot)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Gets whether the lock-free path is off (waiters, a byte bound, or the listener's reasons).</summary>
    public bool IsSlowPath => Volatile.Read(ref _slowPath) != 0;

    /// <summary>Sets the listener, once, before the gate is used.</summary>
    public void Listen(ICapacityGateListener listener)
    {
        lock (SyncRoot)
        {
            _listener = listener;
            UpdateSlowPath();
        }
    }

    /// <summary>Takes room for <paramref name="count"/> messages without the lock, if the fast path is on and there is room.</summary>
    public bool TryEnter(int count) => Volatile.Read(ref _slowPath) == 0 && TryReserveCount(count, underLock: false);

    /// <summary>Takes room for messages and bytes, ahead of any waiter (under <see cref="SyncRoot"/>).</summary>
    public bool TryReserve(int count, long size)
    {
        if (CapacityBytes is { } limit && _bytes + size > limit)
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

    /// <summary>Takes room for messages and bytes only if no publish waits before this one (under <see cref="SyncRoot"/>).</summary>
    public bool TryReserveInOrder(int count, long size) => _waiters.Count == 0 && TryReserve(count, size);

    /// <summary>Gives back room taken for messages that were not stored.</summary>
    public void Unreserve(int count, long size)
    {
        Interlocked.Add(ref _counters.Admitted, -count);
        AfterRoomFreed(size);
    }

    /// <summary>Gives back the room of messages that left the buffer (acknowledged, dead-lettered, dropped).</summary>
    public void Release(int count, long size)
    {
        Interlocked.Add(ref _counters.Released, count);
        AfterRoomFreed(size);
    }

    /// <summary>Counts messages that came back after they were accepted once (redriven): they may exceed the capacity.</summary>
    public void Readmit(int count, long size)
    {
        Interlocked.Add(ref _counters.Admitted, count);
        if (size != 0)
        {
            lock (SyncRoot)
            {
                _bytes += size;
            }
        }
    }

    /// <summary>
    /// Takes a count of the store: it holds <paramref name="heldMinusStored"/> plus the released count (read now)
    /// more messages than the counters say. Room this frees is handed on as a settle's would be.
    /// </summary>
    public void Recounted(long heldMinusStored)
    {
        lock (SyncRoot)
        {
            Volatile.Write(ref _unseen, heldMinusStored + Volatile.Read(ref _counters.Released));
            ServeWaiters();
        }
    }

    /// <summary>Waits until room for the publish is reserved for it, in arrival order.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">The gate was closed.</exception>
    public async Task WaitForRoomAsync(int count, long size, CancellationToken cancellationToken)
    {
        RoomWaiter waiter;
        lock (SyncRoot)
        {
            ThrowIfClosed();
            waiter = new RoomWaiter(this, count, size);
            waiter.Node = _waiters.AddLast(waiter);

            // The flag goes up before the look at room (both full fences): a settle either frees its room before
            // this look finds it, or sees the flag and serves the waiter.
            Interlocked.Exchange(ref _slowPath, 1);
            ServeWaiters();
        }

        using var cancelled = cancellationToken.UnsafeRegister(static (s, token) => ((RoomWaiter)s!).Cancel(token), waiter);
        await waiter.Task.ConfigureAwait(false);
    }

    /// <summary>Recomputes the fast-path flag (under <see cref="SyncRoot"/>) after the listener's state changed.</summary>
    public void UpdateSlowPath() => Interlocked.Exchange(
        ref _slowPath, _waiters.Count > 0 || CapacityBytes is not null || _listener?.KeepsSlowPath == true ? 1 : 0);

    /// <summary>Fails every waiting publish, and any later wait, with <see cref="ObjectDisposedException"/> naming <paramref name="owner"/>.</summary>
    public void Close(object owner)
    {
        lock (SyncRoot)
        {
            _closedBy = owner;
            var error = new ObjectDisposedException(owner.GetType().Name);
            foreach (var waiter in _waiters)
            {
                waiter.TrySetException(error);
            }

            _waiters.Clear();
        }
    }

    /// <summary>
    /// Increment first, then check, so concurrent publishes never overfill. The check first uses the publishers' copy of
    /// the released count, so while there is room a publish touches only the publishers' cache line. A failed attempt
    /// inflates the depth for a moment, which may make the lock holder find no room; so, outside the lock, taking the
    /// increment back serves waiters like any freed room.
    /// </summary>
    private bool TryReserveCount(int count, bool underLock)
    {
        var admitted = Interlocked.Add(ref _counters.Admitted, count);
        var unseen = Volatile.Read(ref _unseen);
        if (admitted - Volatile.Read(ref _counters.ReleasedSeen) + unseen <= Capacity)
        {
            return true;
        }

        // Only when the old copy says full is the consumers' counter read (and the copy refreshed).
        var released = Volatile.Read(ref _counters.Released);
        Volatile.Write(ref _counters.ReleasedSeen, released);
        if (admitted - released + unseen <= Capacity)
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

    /// <summary>After room was freed (by a full-fence update of a counter): serve waiters and the listener if any, and give back bytes.</summary>
    private void AfterRoomFreed(long size)
    {
        if (Volatile.Read(ref _slowPath) == 0)
        {
            return;
        }

        lock (SyncRoot)
        {
            _bytes -= size;
            ServeWaiters();
        }
    }

    /// <summary>Hands freed room to waiting publishes in order (under the lock), tells the listener, and updates the flag.</summary>
    private void ServeWaiters()
    {
        while (_waiters.First is { } first && TryReserve(first.Value.Count, first.Value.Size))
        {
            _waiters.RemoveFirst();
            first.Value.TrySetResult();
        }

        _listener?.RoomFreed();
        UpdateSlowPath();
    }

    private void Cancel(RoomWaiter waiter, CancellationToken token)
    {
        lock (SyncRoot)
        {
            // A waiter already handed room keeps it: its publish goes on (and gives the room back if it then fails).
            if (waiter.Node?.List is not null)
            {
                _waiters.Remove(waiter.Node);
                waiter.TrySetCanceled(token);
                ServeWaiters();
            }
        }
    }

    private void ThrowIfClosed() => ObjectDisposedException.ThrowIf(_closedBy is not null, _closedBy ?? this);

    private sealed class RoomWaiter(CapacityGate owner, int count, long size) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Count { get; } = count;

        public long Size { get; } = size;

        public LinkedListNode<RoomWaiter>? Node { get; set; }

        public void Cancel(CancellationToken token) => owner.Cancel(this, token);
    }
}
