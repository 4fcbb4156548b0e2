using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using MessagingPatterns.StoreAuthoring;

namespace MessagingPatterns.Stores;

/// <summary>
/// Everything the in-memory stores share: leases, delayed release, lease expiry, dead letters, bounded
/// capacity, parked receivers and disposal. Subclasses decide only the order of ready messages
/// (FIFO, by priority, one queue per level), through three members called under the store's lock.
/// </summary>
/// <remarks>
/// <para>
/// The hot path takes no lock on the publisher's side: a publish pushes the message onto a lock-free list of
/// new arrivals, and whoever next holds the lock (usually a receiver taking a batch) moves that list into the
/// store's order. An ack ends its lease with one compare-and-swap in the <see cref="LeaseTable{TMessage}"/>.
/// So the lock is taken about once per received batch, and publishers never wait for consumers.
/// </para>
/// <para>
/// A publish takes the lock only when a receiver is parked, to wake it. A receiver parks only after it has
/// registered itself and then seen no new arrivals, and a publisher looks for parked receivers after pushing,
/// so one of the two always sees the other (both steps are full fences). Lease expiry is driven by one timer
/// set to the earliest lease end or delayed release, so nothing polls.
/// </para>
/// </remarks>
internal abstract class InMemoryStoreBase<TMessage> : IMessageStore<TMessage>, IDisposable
{
    /// <summary>The level filter that accepts messages of every priority.</summary>
    public const int AnyLevel = -1;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly bool _bounded;
    private readonly LeaseTable<TMessage> _leases = new();
    private readonly PriorityQueue<Message<TMessage>, long> _delayed = new();
    private readonly DeadLetterList<TMessage> _deadLetters = new();
    private readonly List<ReceiveWaiter> _parkedReceivers = [];
    private readonly Stack<ReceiveWaiter> _spareWaiters = new();
    private readonly LinkedList<RoomWaiter> _parkedWriters = new();
    private readonly ITimer _timer;
    private readonly long _origin;
    private readonly Action<Message<TMessage>, InMemoryStoreBase<TMessage>> _onLeaseExpired;
    private readonly List<Message<TMessage>> _expired = [];
    private long _nextDueTicks = long.MaxValue;
    private long _timerDueTicks = long.MaxValue;
    private Message<TMessage>? _arrivals;
    private long _sequence;
    private int _held;
    private int _parkedReceiverCount;
    private int _parkedWriterCount;
    private bool _disposed;

    protected InMemoryStoreBase(string name, int capacity, TimeProvider timeProvider)
    {
        QueueNames.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Name = name;
        _capacity = capacity;
        _bounded = capacity != int.MaxValue;
        _time = timeProvider;
        _origin = timeProvider.GetTimestamp();
        _timer = timeProvider.CreateTimer(static s => ((InMemoryStoreBase<TMessage>)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _onLeaseExpired = static (message, store) => store._expired.Add(message);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string MessagingSystem => "memory";

    /// <summary>Whether the store was disposed; read without the lock, so it may lag by one call.</summary>
    protected bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>The time source: wall time for enqueue times and lease ends shown to callers, elapsed time for leases and delays.</summary>
    protected TimeProvider TimeProvider => _time;

    /// <summary>Ready messages (under the lock).</summary>
    protected abstract int ReadyCount { get; }

    /// <summary>When the oldest ready message was published; <see langword="null"/> when none is ready.</summary>
    protected abstract DateTimeOffset? OldestReadyEnqueuedAt { get; }

    /// <summary>Adds a ready message (under the lock). <paramref name="redelivered"/> is true for released and expired ones.</summary>
    protected abstract void AddReady(Message<TMessage> message, bool redelivered);

    /// <summary>
    /// Picks where the next ready messages of <paramref name="level"/> (or any level) come from, in the store's
    /// order (under the lock): returns the list to take from and sets <paramref name="run"/> to how many of its
    /// oldest messages to take, from 1 to <paramref name="max"/>, or 0 when none is ready. The caller takes
    /// exactly that many, so a store orders a run of messages at a time rather than each one.
    /// </summary>
    protected abstract ref MessageList<TMessage> NextRun(long nowTicks, int level, int max, out int run);

    /// <summary>
    /// Moves publishes not yet ordered into the store's order, so that counts read afterwards include every
    /// accepted publish (for readers that look at the subclass's state without the lock, such as gauges).
    /// </summary>
    protected void IncludeArrivals()
    {
        if (Volatile.Read(ref _arrivals) is null)
        {
            return;
        }

        lock (_lock)
        {
            MoveArrivalsIntoOrder();
        }
    }

    /// <summary>Whether publishes wait to be ordered into the store's order (a racy read: for a check's fast path).</summary>
    protected bool HasUnorderedArrivals => Volatile.Read(ref _arrivals) is not null;

    /// <summary>Orders the publishes not yet ordered if the lock is free; a busy lock's holder orders them.</summary>
    protected void TryOrderArrivals()
    {
        if (HasUnorderedArrivals && _lock.TryEnter())
        {
            try
            {
                MoveArrivalsIntoOrder();
            }
            finally
            {
                _lock.Exit();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="check"/> under the lock, after ordering the publishes not yet ordered, if the lock is
    /// free; <see langword="null"/> at once if it is busy. For checks made before every message start, which must
    /// not queue behind receivers and publishers.
    /// </summary>
    protected bool? TryCheckUnderLock<TState>(TState state, Func<TState, bool> check)
    {
        if (!_lock.TryEnter())
        {
            return null;
        }

        try
        {
            MoveArrivalsIntoOrder();
            return check(state);
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a priority the store cannot hold.</summary>
    protected virtual void ValidatePriority(Message<TMessage> message)
    {
    }

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ValidatePriority(message);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        if (!TryReserveAhead(1))
        {
            return WaitForRoomThenEnqueueAsync([message], cancellationToken);
        }

        Publish(message, _time.GetUtcNow());
        WakeIfParked();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null)
            {
                throw new ArgumentNullException(nameof(messages), $"The message at index {i} is null.");
            }

            ValidatePriority(messages[i]);
        }

        if (messages.Count > _capacity)
        {
            throw new ArgumentException($"A batch of {messages.Count} messages can never fit in a store of capacity {_capacity}.", nameof(messages));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        if (!TryReserveAhead(messages.Count))
        {
            return WaitForRoomThenEnqueueAsync(messages, cancellationToken);
        }

        PublishAll(messages);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
        ReceiveCoreAsync(buffer, leaseDuration, AnyLevel, cancellationToken);

    /// <summary>Receives only messages of <paramref name="level"/> (or any level with <see cref="AnyLevel"/>).</summary>
    protected ValueTask<int> ReceiveCoreAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, int level, CancellationToken cancellationToken)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        var spinner = default(SpinWait);
        while (true)
        {
            var now = _time.GetUtcNow();
            lock (_lock)
            {
                ThrowIfDisposed();
                var taken = TakeBatch(buffer.Span, now, leaseDuration, level);
                if (taken > 0)
                {
                    return new ValueTask<int>(taken);
                }

                if (spinner.NextSpinWillYield && TryPark(level, out var waiter))
                {
                    return WaitThenReceiveAsync(waiter, buffer, leaseDuration, level, cancellationToken);
                }
            }

            // A producer on another core is often mid-publish: spinning a moment for its message costs far
            // less than parking and being woken through the thread pool, which dominated a busy queue's cost.
            do
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            while (!spinner.NextSpinWillYield && Volatile.Read(ref _arrivals) is null);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
    {
        // No lock: the lease table ends a lease atomically, and the only other state an ack touches is the
        // count against a bounded capacity.
        ThrowIfDisposed();
        if (!IsOwn(lease) || _leases.TryEnd(lease.Id, lease.Version, ElapsedTicks()) is null)
        {
            return new ValueTask<bool>(false);
        }

        Removed();
        return new ValueTask<bool>(true);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        lock (_lock)
        {
            ThrowIfDisposed();
            var message = IsOwn(lease) ? _leases.TryEnd(lease.Id, lease.Version, ElapsedTicks()) : null;
            if (message is null)
            {
                return new ValueTask<bool>(false);
            }

            if (delay == TimeSpan.Zero)
            {
                AddReadyAndWake(message, redelivered: true);
            }
            else
            {
                var due = AddClamped(ElapsedTicks(), delay);
                _delayed.Enqueue(message, due);
                ScheduleAt(due);
            }

            return new ValueTask<bool>(true);
        }
    }

    /// <summary>
    /// Makes leased messages that no handler started ready again at once, taking back the delivery each lease
    /// counted, so a message handed back for a more urgent one is as it was before it was received.
    /// </summary>
    protected int HandBack(IReadOnlyList<LeaseToken> leases)
    {
        ArgumentNullException.ThrowIfNull(leases);
        lock (_lock)
        {
            ThrowIfDisposed();
            var handedBack = 0;
            for (var i = 0; i < leases.Count; i++)
            {
                var lease = leases[i];
                var message = IsOwn(lease) ? _leases.TryEnd(lease.Id, lease.Version, ElapsedTicks()) : null;
                if (message is not null)
                {
                    message.DeliveryCount--;
                    AddReadyAndWake(message, redelivered: true);
                    handedBack++;
                }
            }

            return handedBack;
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        lock (_lock)
        {
            ThrowIfDisposed();
            var now = ElapsedTicks();
            var expires = AddClamped(now, leaseDuration);
            var renewed = IsOwn(lease) && _leases.TryRenew(lease.Id, lease.Version, now, expires);
            if (renewed)
            {
                // A renewal may shorten the lease, so the expiry check may be due sooner. One that comes early
                // (the lease was extended) finds nothing due and re-arms, which is cheaper than tracking each
                // lease's expiry separately.
                ScheduleAt(expires);
            }

            return new ValueTask<bool>(renewed);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        lock (_lock)
        {
            ThrowIfDisposed();
            var message = IsOwn(lease) ? _leases.TryEnd(lease.Id, lease.Version, ElapsedTicks()) : null;
            if (message is null)
            {
                return new ValueTask<bool>(false);
            }

            _deadLetters.Add(new DeadLetter<TMessage>(message, reason, message.DeliveryCount, _time.GetUtcNow()));
            Removed();
            return new ValueTask<bool>(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var after = DeadLetterList<TMessage>.ParseToken(continuationToken);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ThrowIfDisposed();
            return new ValueTask<DeadLetterPage<TMessage>>(_deadLetters.Browse(filter, pageSize, after));
        }
    }

    /// <inheritdoc/>
    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ThrowIfDisposed();
            _deadLetters.RemoveMatching(filter, 0, long.MaxValue, int.MaxValue, static _ => { }, out var purged);
            return new ValueTask<long>(purged);
        }
    }

    /// <inheritdoc/>
    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        long upTo;
        lock (_lock)
        {
            ThrowIfDisposed();
            upTo = _deadLetters.LastNumber;
        }

        long redriven = 0, after = 0;
        while (true)
        {
            int moved;
            lock (_lock)
            {
                ThrowIfDisposed();
                after = RedriveBatch(filter, after, upTo, batchSize, out moved);
            }

            redriven += moved;
            if (after >= upTo)
            {
                return new ValueTask<long>(redriven);
            }

            // Between batches the lock is free for consumers and publishers; what moved stays moved.
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Moves one batch of dead letters back to the queue (under the lock); returns where the next batch starts.</summary>
    private long RedriveBatch(DeadLetterFilter filter, long after, long upTo, int batchSize, out int moved)
    {
        // Earlier publishes are ordered first, so redriven messages queue behind them.
        MoveArrivalsIntoOrder();
        var last = _deadLetters.RemoveMatching(filter, after, upTo, batchSize, deadLetter =>
        {
            var message = deadLetter.Message!;
            message.DeliveryCount = 0;
            message.StartObserved = false;
            message.Sequence = ++_sequence;
            AddReadyAndWake(message, redelivered: false);
        }, out moved);

        // A redriven message was accepted once already, so it may take the store past its capacity.
        if (_bounded && moved > 0)
        {
            Interlocked.Add(ref _held, moved);
        }

        // Nothing left to look at: report the end, so the caller stops.
        return moved == 0 && last == after ? upTo : last;
    }

    /// <inheritdoc/>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            MoveArrivalsIntoOrder();
            return new ValueTask<StoreStatistics>(new StoreStatistics(ReadyCount, _delayed.Count, _leases.Count, _deadLetters.Count)
            {
                OldestReadyAge = StoreStatistics.AgeOf(OldestReadyEnqueuedAt, _time.GetUtcNow()),
            });
        }
    }

    /// <summary>Disposes the store. Messages still held are gone: an in-memory store lives as long as its process.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Disposes the store (synchronously: nothing to flush), for containers disposed without await.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            var error = new ObjectDisposedException(GetType().Name);
            foreach (var waiter in _parkedReceivers)
            {
                waiter.Fail(error);
            }

            _parkedReceivers.Clear();
            Volatile.Write(ref _parkedReceiverCount, 0);
            foreach (var writer in _parkedWriters)
            {
                writer.Completion.TrySetException(error);
            }

            _parkedWriters.Clear();
            _parkedWriterCount = 0;
        }

        _timer.Dispose();
    }

    private int TakeBatch(Span<Delivery<TMessage>> buffer, DateTimeOffset now, TimeSpan leaseDuration, int level)
    {
        // Leases measure elapsed time; the wall clock only dates them for the caller (and for schedulers
        // that compare with enqueue times), so a clock being set neither ends nor stretches a lease.
        var nowTicks = now.UtcTicks;
        var elapsed = ElapsedTicks();
        MoveArrivalsIntoOrder();
        ProcessDue(elapsed);

        var expiresTicks = AddClamped(elapsed, leaseDuration);
        var expiresAt = new DateTimeOffset(AddClamped(nowTicks, leaseDuration), TimeSpan.Zero);
        var taken = 0;
        try
        {
            while (taken < buffer.Length)
            {
                ref var ready = ref NextRun(nowTicks, level, buffer.Length - taken, out var run);
                if (run == 0)
                {
                    break;
                }

                for (var end = taken + run; taken < end; taken++)
                {
                    var message = ready.Dequeue();
                    var count = ++message.DeliveryCount;
                    var (slot, version) = _leases.Add(message, expiresTicks);
                    buffer[taken] = new Delivery<TMessage>(message, new LeaseToken(slot, version, this), count, expiresAt) { LeaseGrantedAt = now };
                }
            }
        }
        finally
        {
            // Also when a scheduler throws part way: the leases already taken then end on time and their messages
            // come back, rather than waiting for some other lease to arm the timer.
            if (taken > 0)
            {
                ScheduleAt(expiresTicks);
            }
        }

        return taken;
    }

    /// <summary>
    /// Reserves room for a publish that has not waited: false if it does not fit now, or if publishers are
    /// already waiting for room (it queues behind them, so waiting publishers are served in arrival order).
    /// </summary>
    private bool TryReserveAhead(int count) =>
        !_bounded || (Volatile.Read(ref _parkedWriterCount) == 0 && TryReserve(count));

    /// <summary>Counts messages against a bounded capacity; false if they do not fit now.</summary>
    private bool TryReserve(int count)
    {
        if (!_bounded)
        {
            return true;
        }

        while (true)
        {
            var held = Volatile.Read(ref _held);
            if (held + count > _capacity)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _held, held + count, held) == held)
            {
                return true;
            }
        }
    }

    /// <summary>Pushes a message onto the list of arrivals, without the lock (its room is already reserved).</summary>
    private void Publish(Message<TMessage> message, DateTimeOffset now)
    {
        // A message object already published is copied, so two stores (or two publishes) never share
        // the delivery bookkeeping an in-memory store keeps on it.
        if (!message.TryClaimForPublish(now))
        {
            message = message.CopyForRepublish();
            message.TryClaimForPublish(now);
        }

        while (true)
        {
            var head = Volatile.Read(ref _arrivals);
            message.Next = head;
            if (Interlocked.CompareExchange(ref _arrivals, message, head) == head)
            {
                return;
            }
        }
    }

    private void PublishAll(IReadOnlyList<Message<TMessage>> messages)
    {
        var now = _time.GetUtcNow();
        for (var i = 0; i < messages.Count; i++)
        {
            Publish(messages[i], now);
        }

        WakeIfParked();
    }

    /// <summary>After a publish: if a receiver is parked, orders the arrivals under the lock, which wakes it.</summary>
    private void WakeIfParked()
    {
        // Read after the push (a full fence); a receiver registers before its last look at the arrivals.
        if (Volatile.Read(ref _parkedReceiverCount) == 0)
        {
            return;
        }

        lock (_lock)
        {
            MoveArrivalsIntoOrder();
        }
    }

    /// <summary>Moves the arrivals into the store's order, oldest first, waking parked receivers (under the lock).</summary>
    private void MoveArrivalsIntoOrder()
    {
        // Looked at first: the exchange would take the cache line from the publishers' core even when idle.
        if (Volatile.Read(ref _arrivals) is null)
        {
            return;
        }

        var newest = Interlocked.Exchange(ref _arrivals, null)!;

        // The list is newest first: reverse it into publish order.
        Message<TMessage>? oldest = null;
        while (newest is not null)
        {
            var next = newest.Next;
            newest.Next = oldest;
            oldest = newest;
            newest = next;
        }

        // The sequence is written back once per batch, not per message.
        var sequence = _sequence;
        while (oldest is not null)
        {
            var next = oldest.Next;
            oldest.Next = null;
            oldest.Sequence = ++sequence;
            AddReadyAndWake(oldest, redelivered: false);
            oldest = next;
        }

        _sequence = sequence;
    }

    private async ValueTask WaitForRoomThenEnqueueAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken)
    {
        RoomWaiter waiter;
        lock (_lock)
        {
            ThrowIfDisposed();

            // Queued, then served in order: an ack that makes room after this point sees the writer and serves
            // it (acks count down without the lock), and the room is reserved for it before it is woken.
            waiter = new RoomWaiter(messages);
            waiter.Node = _parkedWriters.AddLast(waiter);
            Interlocked.Increment(ref _parkedWriterCount);
            ServeWriters();
        }

        if (!waiter.Completion.Task.IsCompleted)
        {
            await using (cancellationToken.Register(static (s, token) => ((InMemoryStoreBase<TMessage>)((object[])s!)[0]).CancelWriter((RoomWaiter)((object[])s!)[1], token), new object[] { this, waiter }).ConfigureAwait(false))
            {
                await waiter.Completion.Task.ConfigureAwait(false);
            }
        }

        // Served: its messages were published then, so a cancellation that came later is too late.
    }

    /// <summary>
    /// Serves waiting writers in arrival order while the first one fits (under the lock), publishing its messages
    /// before waking it: were each woken writer to publish its own, the thread pool could run a later one first and
    /// its messages would overtake. The first that does not fit stops the rest, so a large batch is not overtaken
    /// for ever.
    /// </summary>
    private void ServeWriters()
    {
        while (_parkedWriters.First is { } first && TryReserve(first.Value.Messages.Count))
        {
            RemoveWriter(first.Value);
            PublishAll(first.Value.Messages);
            first.Value.Completion.TrySetResult();
        }
    }

    private void CancelWriter(RoomWaiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is null)
            {
                // Already served (its room is reserved) or failed by disposal.
                return;
            }

            RemoveWriter(waiter);

            // The next writer may fit where this one did not.
            ServeWriters();
        }

        waiter.Completion.TrySetCanceled(token);
    }

    private void RemoveWriter(RoomWaiter waiter)
    {
        if (waiter.Node?.List is not null)
        {
            _parkedWriters.Remove(waiter.Node);
            Interlocked.Decrement(ref _parkedWriterCount);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> WaitThenReceiveAsync(
        ReceiveWaiter waiter, Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, int level, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (cancellationToken.CanBeCanceled)
            {
                waiter.CancellationToken = cancellationToken;
                waiter.Registration = cancellationToken.UnsafeRegister(
                    static (s, token) => ((InMemoryStoreBase<TMessage>)((ReceiveWaiter)s!).Owner!).CancelReceiver((ReceiveWaiter)s!, token),
                    waiter);
            }

            try
            {
                await waiter.WaitAsync().ConfigureAwait(false);
            }
            finally
            {
                // Disposing the registration outside the lock: it may wait for a running callback, which takes the lock.
                await waiter.Registration.DisposeAsync().ConfigureAwait(false);
                lock (_lock)
                {
                    waiter.Reset();
                    _spareWaiters.Push(waiter);
                }
            }

            // Look for messages; park again if there are none (looking once more if a publish slipped in).
            while (true)
            {
                var now = _time.GetUtcNow();
                lock (_lock)
                {
                    ThrowIfDisposed();
                    if (cancellationToken.IsCancellationRequested)
                    {
                        // We may have been woken for a message we now leave behind: pass the wake-up on. Every
                        // parked receiver is woken, since the ones first in line may take other levels only.
                        MoveArrivalsIntoOrder();
                        if (ReadyCount > 0)
                        {
                            WakeAllReaders();
                        }

                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    var taken = TakeBatch(buffer.Span, now, leaseDuration, level);
                    if (taken > 0)
                    {
                        return taken;
                    }

                    if (TryPark(level, out var next))
                    {
                        waiter = next;
                        break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Parks a receiver that found nothing (under the lock); false, parking nothing, if a publish arrived in
    /// the meantime, so the caller looks again.
    /// </summary>
    private bool TryPark(int level, [NotNullWhen(true)] out ReceiveWaiter? waiter)
    {
        waiter = _spareWaiters.Count > 0 ? _spareWaiters.Pop() : new ReceiveWaiter();
        waiter.Owner = this;
        waiter.Level = level;
        _parkedReceivers.Add(waiter);

        // Registered first, then one last look (the exchange is a full fence): a publish pushed after
        // this look finds the receiver parked and wakes it.
        Interlocked.Exchange(ref _parkedReceiverCount, _parkedReceivers.Count);
        if (Volatile.Read(ref _arrivals) is null)
        {
            return true;
        }

        _parkedReceivers.RemoveAt(_parkedReceivers.Count - 1);
        Volatile.Write(ref _parkedReceiverCount, _parkedReceivers.Count);
        _spareWaiters.Push(waiter);
        waiter = null;
        return false;
    }

    private void CancelReceiver(ReceiveWaiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (_parkedReceivers.Remove(waiter))
            {
                Volatile.Write(ref _parkedReceiverCount, _parkedReceivers.Count);
                waiter.Fail(new OperationCanceledException(token));
            }
        }
    }

    private void AddReadyAndWake(Message<TMessage> message, bool redelivered)
    {
        AddReady(message, redelivered);
        if (_parkedReceivers.Count > 0)
        {
            WakeReaderFor(message.Priority);
        }
    }

    /// <summary>
    /// Wakes one parked receiver for a message of level <paramref name="priority"/> (under the lock), preferring
    /// one that takes only that level: a receiver of any level may take another, higher message instead, and
    /// this one would then wait while a receiver parked for its level slept on.
    /// </summary>
    private void WakeReaderFor(int priority)
    {
        var chosen = -1;
        for (var i = 0; i < _parkedReceivers.Count; i++)
        {
            var level = _parkedReceivers[i].Level;
            if (level == priority)
            {
                chosen = i;
                break;
            }

            if (level == AnyLevel && chosen < 0)
            {
                chosen = i;
            }
        }

        if (chosen >= 0)
        {
            WakeAt(chosen);
        }
    }

    /// <summary>Wakes every parked receiver (under the lock).</summary>
    private void WakeAllReaders()
    {
        while (_parkedReceivers.Count > 0)
        {
            WakeAt(_parkedReceivers.Count - 1);
        }
    }

    private void WakeAt(int index)
    {
        var waiter = _parkedReceivers[index];
        _parkedReceivers.RemoveAt(index);
        Volatile.Write(ref _parkedReceiverCount, _parkedReceivers.Count);
        waiter.Wake();
    }

    /// <summary>Counts a message out of the store and, if writers wait for room, wakes them to try again.</summary>
    private void Removed()
    {
        if (!_bounded)
        {
            return;
        }

        Interlocked.Decrement(ref _held);
        if (Volatile.Read(ref _parkedWriterCount) == 0)
        {
            return;
        }

        lock (_lock)
        {
            ServeWriters();
        }
    }

    private void ProcessDue(long nowTicks)
    {
        if (nowTicks < _nextDueTicks)
        {
            return;
        }

        while (_delayed.TryPeek(out var message, out var due) && due <= nowTicks)
        {
            _delayed.Dequeue();
            AddReadyAndWake(message, redelivered: true);
        }

        var nextLease = _leases.ExpireDue(nowTicks, _onLeaseExpired, this);
        if (_expired.Count > 0)
        {
            // Leases end in slot order, not publish order; sorted, they mostly join their lists at the tail. Each
            // wakes a receiver of its own level: a bulk wake-up of "any" receivers could wake only receivers of
            // other levels (per-level views) and leave the message's own receiver parked.
            _expired.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
            foreach (var message in _expired)
            {
                AddReadyAndWake(message, redelivered: true);
            }

            _expired.Clear();
        }

        _nextDueTicks = _delayed.TryPeek(out _, out var nextDelayed) ? Math.Min(nextLease, nextDelayed) : nextLease;
        ArmTimer(nowTicks);
    }

    private void ScheduleAt(long dueTicks)
    {
        if (dueTicks < _nextDueTicks)
        {
            _nextDueTicks = dueTicks;
            ArmTimer(ElapsedTicks());
        }
    }

    private void ArmTimer(long nowTicks)
    {
        if (_nextDueTicks >= _timerDueTicks || _disposed)
        {
            return;
        }

        _timerDueTicks = _nextDueTicks;
        if (_nextDueTicks != long.MaxValue)
        {
            // A due time past the timer's limit fires early, and OnTimer arms it again.
            _timer.Change(TimerDue.Clamp(_nextDueTicks - nowTicks), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _timerDueTicks = long.MaxValue;
            var nowTicks = ElapsedTicks();
            if (nowTicks < _nextDueTicks)
            {
                ArmTimer(nowTicks);
                return;
            }

            ProcessDue(nowTicks);
        }
    }

    /// <summary>Time elapsed since the store was made, in ticks: what leases and delays are measured in.</summary>
    private long ElapsedTicks() => _time.GetElapsedTime(_origin).Ticks;

    private bool IsOwn(LeaseToken lease) => ReferenceEquals(lease.Owner, this);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    private static long AddClamped(long ticks, TimeSpan span) =>
        span.Ticks >= DateTimeOffset.MaxValue.UtcTicks - ticks ? DateTimeOffset.MaxValue.UtcTicks : ticks + span.Ticks;

    private sealed class RoomWaiter(IReadOnlyList<Message<TMessage>> messages)
    {
        /// <summary>What the writer publishes: its count is the room it waits for.</summary>
        public IReadOnlyList<Message<TMessage>> Messages => messages;

        /// <summary>Completes when the writer's room is reserved; cancelled or failed if it stops waiting.</summary>
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<RoomWaiter>? Node { get; set; }
    }
}
