namespace MessagingPatterns.Stores;

/// <summary>
/// The in-flight messages of an in-memory store, in reusable slots. A lease token is (slot, version), where
/// the version is the slot's state while that lease holds it: settling compares the state instead of
/// looking the message up in a dictionary, and every state change makes older tokens stale at once.
/// </summary>
/// <remarks>
/// <para>
/// Leases are added, renewed and expired under the owning store's lock, but <see cref="TryEnd"/> needs no
/// lock: it claims the slot with one compare-and-swap, so an ack never waits for a publisher. Slots live in
/// fixed-size segments that never move, so a lock-free end never writes to a stale copy when the table grows.
/// </para>
/// <para>
/// A slot's state is (generation &lt;&lt; 2) | <see cref="Free"/>, <see cref="Leased"/> or
/// <see cref="Ending"/>. Ending lasts from the winning compare-and-swap until the message reference is
/// cleared, so a slot is never handed out while its last lease is still being ended.
/// </para>
/// </remarks>
internal sealed class LeaseTable<TMessage>
{
    private const int Free = 0;
    private const int Leased = 1;
    private const int Ending = 2;
    private const int FlagMask = 3;
    private const int NextGeneration = 4;
    private const int SegmentShift = 8;
    private const int SegmentSize = 1 << SegmentShift;
    private const int SegmentMask = SegmentSize - 1;

    private Slot[][] _segments = [new Slot[SegmentSize]];
    private int _cursor;

    // Leases made (only under the store's lock, so a plain count) and ended (from any thread). Two counts
    // instead of one: a receive then takes no atomic operation per message, only an ack does.
    private int _added;
    private int _ended;

    /// <summary>How many messages are leased.</summary>
    public int Count
    {
        get
        {
            // Ends first: every lease ended is one added before, so the difference is never negative.
            var ended = Volatile.Read(ref _ended);
            return Volatile.Read(ref _added) - ended;
        }
    }

    /// <summary>Leases a message until <paramref name="expiresAtTicks"/> and returns its slot and version (under the store's lock).</summary>
    public (int Slot, int Version) Add(Message<TMessage> message, long expiresAtTicks)
    {
        var segments = _segments;
        var capacity = segments.Length * SegmentSize;

        // Keep at least half the slots free, so the scan below finds one within a step or two.
        if (Count >= capacity / 2)
        {
            segments = [.. segments, new Slot[SegmentSize]];
            Volatile.Write(ref _segments, segments);
            _cursor = capacity;
            capacity += SegmentSize;
        }

        while (true)
        {
            var slot = _cursor;
            _cursor = slot + 1 == capacity ? 0 : slot + 1;
            ref var entry = ref segments[slot >> SegmentShift][slot & SegmentMask];
            var state = Volatile.Read(ref entry.State);
            if ((state & FlagMask) != Free)
            {
                continue;
            }

            entry.Message = message;
            entry.ExpiresAtTicks = expiresAtTicks;
            var version = state | Leased;
            Volatile.Write(ref _added, _added + 1);

            // Published last: a token for this lease can match only once the message is in place.
            Volatile.Write(ref entry.State, version);
            return (slot, version);
        }
    }

    /// <summary>
    /// Sets a live lease's end (later or earlier); <see langword="false"/> if the token is stale or the lease
    /// ended at <paramref name="nowTicks"/> (under the store's lock).
    /// </summary>
    public bool TryRenew(long slot, long version, long nowTicks, long expiresAtTicks)
    {
        if (!TryGetSlot(slot, out var segment) || Volatile.Read(ref segment[slot & SegmentMask].State) != version ||
            segment[slot & SegmentMask].ExpiresAtTicks <= nowTicks)
        {
            return false;
        }

        // An ack racing this renewal may end the lease anyway; the new expiry is then simply unused.
        segment[slot & SegmentMask].ExpiresAtTicks = expiresAtTicks;
        return true;
    }

    /// <summary>
    /// Ends a live lease and returns its message; <see langword="null"/> if the token is stale or the lease
    /// ended at <paramref name="nowTicks"/> (its expiry not yet processed: the message then comes back
    /// through <see cref="ExpireDue"/>). Safe without the store's lock: of several callers ending one
    /// lease, exactly one gets the message.
    /// </summary>
    public Message<TMessage>? TryEnd(long slot, long version, long nowTicks)
    {
        if ((version & FlagMask) != Leased || !TryGetSlot(slot, out var segment))
        {
            return null;
        }

        ref var entry = ref segment[slot & SegmentMask];

        // Read before the claim: a renewal (under the lock) may move the end either way meanwhile, and either
        // answer is one the caller could have had a moment earlier or later.
        if (Volatile.Read(ref entry.ExpiresAtTicks) <= nowTicks)
        {
            return null;
        }
        var leased = (int)version;
        if (Interlocked.CompareExchange(ref entry.State, (leased & ~FlagMask) | Ending, leased) != leased)
        {
            return null;
        }

        var message = entry.Message;
        entry.Message = null;
        Volatile.Write(ref entry.State, (leased & ~FlagMask) + NextGeneration);

        // Counted down only once the slot is free again, so Add's "half free" rule always holds.
        Interlocked.Increment(ref _ended);
        return message;
    }

    /// <summary>
    /// Ends every lease that expired at <paramref name="nowTicks"/>, handing its message to
    /// <paramref name="onExpired"/>, and returns the earliest expiry still pending
    /// (<see cref="long.MaxValue"/> when none). Under the store's lock.
    /// </summary>
    public long ExpireDue<TState>(long nowTicks, Action<Message<TMessage>, TState> onExpired, TState state)
    {
        var next = long.MaxValue;
        var segments = _segments;
        for (var s = 0; s < segments.Length; s++)
        {
            var segment = segments[s];
            for (var i = 0; i < segment.Length; i++)
            {
                var version = Volatile.Read(ref segment[i].State);
                if ((version & FlagMask) != Leased)
                {
                    continue;
                }

                var expiresAt = segment[i].ExpiresAtTicks;
                if (expiresAt > nowTicks)
                {
                    next = Math.Min(next, expiresAt);
                }
                else if (TryEnd(((long)s << SegmentShift) | (long)i, version, long.MinValue) is { } message)
                {
                    onExpired(message, state);
                }
            }
        }

        return next;
    }

    private bool TryGetSlot(long slot, out Slot[] segment)
    {
        var segments = Volatile.Read(ref _segments);
        if ((ulong)slot >= (ulong)segments.Length * SegmentSize)
        {
            segment = [];
            return false;
        }

        segment = segments[slot >> SegmentShift];
        return true;
    }

    private struct Slot
    {
        public Message<TMessage>? Message;
        public long ExpiresAtTicks;
        public int State;
    }
}
