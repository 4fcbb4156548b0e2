namespace MessagingPatterns.Stores;

/// <summary>
/// The in-flight messages of an in-memory store, in reusable slots. A lease token is (slot, generation):
/// settling checks the generation instead of looking the message up in a dictionary, and bumping the
/// generation when a lease ends makes every older token stale at once. Not thread-safe: the owning store
/// calls it under its lock.
/// </summary>
internal sealed class LeaseTable<TMessage>
{
    private Slot[] _slots = new Slot[64];
    private int[] _freeSlots = new int[64];
    private int _freeCount;
    private int _usedSlots;

    /// <summary>How many messages are leased.</summary>
    public int Count { get; private set; }

    /// <summary>Leases a message until <paramref name="expiresAtTicks"/> and returns its slot and generation.</summary>
    public (int Slot, int Generation) Add(Message<TMessage> message, long expiresAtTicks)
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _freeSlots[--_freeCount];
        }
        else
        {
            if (_usedSlots == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }

            slot = _usedSlots++;
        }

        ref var entry = ref _slots[slot];
        entry.Message = message;
        entry.ExpiresAtTicks = expiresAtTicks;
        Count++;
        return (slot, entry.Generation);
    }

    /// <summary>Returns the message of a live lease, or <see langword="null"/> if the token is stale or unknown.</summary>
    public Message<TMessage>? Find(long slot, long generation)
    {
        if ((ulong)slot >= (ulong)_usedSlots)
        {
            return null;
        }

        ref var entry = ref _slots[slot];
        return entry.Generation == generation ? entry.Message : null;
    }

    /// <summary>Extends a live lease; <see langword="false"/> if the token is stale.</summary>
    public bool TryRenew(long slot, long generation, long expiresAtTicks)
    {
        if (Find(slot, generation) is null)
        {
            return false;
        }

        _slots[slot].ExpiresAtTicks = expiresAtTicks;
        return true;
    }

    /// <summary>Ends a live lease and returns its message; <see langword="null"/> if the token is stale.</summary>
    public Message<TMessage>? Remove(long slot, long generation)
    {
        var message = Find(slot, generation);
        if (message is not null)
        {
            Free((int)slot);
        }

        return message;
    }

    /// <summary>
    /// Ends every lease that expired at <paramref name="nowTicks"/>, handing its message to
    /// <paramref name="onExpired"/>, and returns the earliest expiry still pending
    /// (<see cref="long.MaxValue"/> when none).
    /// </summary>
    public long ExpireDue<TState>(long nowTicks, Action<Message<TMessage>, TState> onExpired, TState state)
    {
        var next = long.MaxValue;
        for (var slot = 0; slot < _usedSlots; slot++)
        {
            ref var entry = ref _slots[slot];
            if (entry.Message is null)
            {
                continue;
            }

            if (entry.ExpiresAtTicks <= nowTicks)
            {
                var message = entry.Message;
                Free(slot);
                onExpired(message, state);
            }
            else if (entry.ExpiresAtTicks < next)
            {
                next = entry.ExpiresAtTicks;
            }
        }

        return next;
    }

    private void Free(int slot)
    {
        ref var entry = ref _slots[slot];
        entry.Message = null;
        entry.Generation++;
        if (_freeCount == _freeSlots.Length)
        {
            Array.Resize(ref _freeSlots, _freeSlots.Length * 2);
        }

        _freeSlots[_freeCount++] = slot;
        Count--;
    }

    private struct Slot
    {
        public Message<TMessage>? Message;
        public long ExpiresAtTicks;
        public int Generation;
    }
}
