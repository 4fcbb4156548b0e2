namespace MessagingPatterns.Stores;

/// <summary>
/// The in-memory FIFO store: messages are received in publish order; released and expired messages go
/// ahead of those never delivered, since they are older.
/// </summary>
internal sealed class InMemoryQueueStore<TMessage> : InMemoryStoreBase<TMessage>
{
    private ReadyQueue<TMessage> _ready;

    public InMemoryQueueStore(string name, InMemoryQueueOptions options, TimeProvider timeProvider)
        : base(name, options.Capacity ?? int.MaxValue, timeProvider)
    {
    }

    protected override int ReadyCount => _ready.Count;

    protected override DateTimeOffset? OldestReadyEnqueuedAt => _ready.OldestEnqueuedAt;

    protected override void AddReady(Message<TMessage> message, bool redelivered) => _ready.Add(message, redelivered);

    protected override ref MessageList<TMessage> NextRun(long nowTicks, int level, int max, out int run)
    {
        ref var ready = ref _ready.Next;
        run = Math.Min(max, ready.Count);
        return ref ready;
    }
}
