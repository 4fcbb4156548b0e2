namespace MessagingPatterns.Testing;

/// <summary>
/// What a store must hold, for the model-based test: each message's state, delivery count and current lease.
/// Lease ends and delays are read on the same fake clock as the store's.
/// </summary>
internal sealed class StoreModel(TimeProvider time)
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<LeaseToken> _tokens = [];

    private DateTimeOffset Now => time.GetUtcNow();

    public void Enqueued(string id) => _entries[id] = new Entry();

    /// <summary>Messages a receive may take now: ready, due after a delay, or back from an ended lease.</summary>
    public int ReadyCount() => _entries.Values.Count(e => IsReady(e));

    /// <summary>Records a lease the store granted (which must be of a ready message); returns the expected delivery count.</summary>
    public int Leased(string id, LeaseToken token, TimeSpan lease)
    {
        var entry = _entries[id];
        if (!IsReady(entry))
        {
            throw new InvalidOperationException($"The store delivered {id}, which the model holds as {entry.State}.");
        }

        entry.State = State.Leased;
        entry.Token = token;
        entry.Until = Now + lease;
        entry.Deliveries++;
        _tokens.Add(token);
        return entry.Deliveries;
    }

    /// <summary>A token seen before, current or stale.</summary>
    public LeaseToken? PickToken(Random random) => _tokens.Count == 0 ? null : _tokens[random.Next(_tokens.Count)];

    public bool Ack(LeaseToken token) => End(token, static e => e.State = State.Gone);

    public bool Release(LeaseToken token, TimeSpan delay) => End(token, e =>
    {
        e.State = delay == TimeSpan.Zero ? State.Ready : State.Delayed;
        e.Until = Now + delay;
    });

    public bool Renew(LeaseToken token, TimeSpan duration)
    {
        if (Holder(token) is not { } entry)
        {
            return false;
        }

        entry.Until = Now + duration;
        return true;
    }

    public bool DeadLetter(LeaseToken token) => End(token, static e => e.State = State.Dead);

    public long RedriveAll()
    {
        long moved = 0;
        foreach (var entry in _entries.Values.Where(e => e.State == State.Dead))
        {
            entry.State = State.Ready;
            entry.Deliveries = 0;
            moved++;
        }

        return moved;
    }

    /// <summary>After a reopen no earlier token is honoured, but a leased message stays hidden until its lease ends.</summary>
    public void Reopened()
    {
        foreach (var entry in _entries.Values.Where(e => e.State == State.Leased))
        {
            entry.Token = null;
        }
    }

    public StoreStatistics Statistics()
    {
        long ready = 0, delayed = 0, inFlight = 0, dead = 0;
        foreach (var entry in _entries.Values)
        {
            if (IsReady(entry))
            {
                ready++;
            }
            else if (entry.State == State.Delayed)
            {
                delayed++;
            }
            else if (entry.State == State.Leased)
            {
                inFlight++;
            }
            else if (entry.State == State.Dead)
            {
                dead++;
            }
        }

        return new StoreStatistics(ready, delayed, inFlight, dead);
    }

    public IEnumerable<string> DeadIds() => _entries.Where(pair => pair.Value.State == State.Dead).Select(pair => pair.Key).ToArray();

    private bool IsReady(Entry entry) =>
        entry.State == State.Ready || (entry.State is State.Delayed or State.Leased && entry.Until <= Now);

    private Entry? Holder(LeaseToken token) =>
        _entries.Values.FirstOrDefault(e => e.State == State.Leased && e.Token is { } current && current.Equals(token) && e.Until > Now);

    private bool End(LeaseToken token, Action<Entry> then)
    {
        if (Holder(token) is not { } entry)
        {
            return false;
        }

        entry.Token = null;
        then(entry);
        return true;
    }

    private enum State
    {
        Ready,
        Delayed,
        Leased,
        Dead,
        Gone,
    }

    private sealed class Entry
    {
        public State State { get; set; }

        public int Deliveries { get; set; }

        public DateTimeOffset Until { get; set; }

        public LeaseToken? Token { get; set; }
    }
}
