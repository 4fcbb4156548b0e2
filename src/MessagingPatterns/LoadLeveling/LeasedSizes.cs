namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// The sizes of the messages a byte-bounded buffer has leased out, by lease, so a settle gives back the right number of
/// bytes. Leases that ended without a settle are pruned, so the map never outgrows the buffer.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class LeasedSizes<TMessage>(MessageSizer<TMessage> sizer)
{
    private readonly Dictionary<LeaseToken, Entry> _sizes = [];
    private readonly Lock _lock = new();

    /// <summary>Gets how many leases are remembered.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sizes.Count;
            }
        }
    }

    /// <summary>Remembers the size of each delivery under its lease, and prunes ended leases once the map has grown well past <paramref name="depth"/>.</summary>
    public void Leased(ReadOnlySpan<Delivery<TMessage>> deliveries, long nowTicks, long depth)
    {
        lock (_lock)
        {
            foreach (var delivery in deliveries)
            {
                _sizes[delivery.Lease] = new Entry(sizer.SizeOf(delivery.Message), delivery.LeaseExpiresAt.UtcTicks);
            }

            // Leases that ended without a settle (a consumer that stopped without releasing) were redelivered under new
            // leases, which recorded the size again. Pruned only when the map is large, so it costs nothing usually.
            if (_sizes.Count > (2 * depth) + 64)
            {
                foreach (var (lease, entry) in _sizes)
                {
                    if (entry.ExpiresTicks < nowTicks)
                    {
                        _sizes.Remove(lease);
                    }
                }
            }
        }
    }

    /// <summary>Forgets a settled lease and returns its message's size (0 if unknown).</summary>
    public long Settled(LeaseToken lease)
    {
        lock (_lock)
        {
            return _sizes.Remove(lease, out var entry) ? entry.Size : 0;
        }
    }

    /// <summary>Forgets a released lease: the message stays (its bytes stay counted) and its next lease records it again.</summary>
    public void Released(LeaseToken lease)
    {
        lock (_lock)
        {
            _sizes.Remove(lease);
        }
    }

    /// <summary>Moves a renewed lease's end, so pruning keeps it.</summary>
    public void Renewed(LeaseToken lease, long expiresTicks)
    {
        lock (_lock)
        {
            if (_sizes.TryGetValue(lease, out var entry))
            {
                _sizes[lease] = entry with { ExpiresTicks = expiresTicks };
            }
        }
    }

    private readonly record struct Entry(long Size, long ExpiresTicks);
}
