namespace MessagingPatterns.Stores;

/// <summary>
/// The in-memory FIFO store: messages are received in publish order; released and expired messages go
/// ahead of those never delivered, since they are older.
/// </summary>
internal sealed class InMemoryQueueStore<TMessage> : InMemoryStoreBase<TMessage>
{
    private MessageList<TMessage> _redelivered;
    private MessageList<TMessage> _fresh;

    public InMemoryQueueStore(string name, InMemoryQueueOptions options, TimeProvider timeProvider)
        : base(name, options.Capacity ?? int.MaxValue, timeProvider)
    {
    }

    protected override int ReadyCount => _redelivered.Count + _fresh.Count;

    protected override void AddReady(Message<TMessage> message, bool redelivered)
    {
        if (redelivered)
        {
            _redelivered.Enqueue(message);
        }
        else
        {
            _fresh.Enqueue(message);
        }
    }

    protected override ref MessageList<TMessage> NextRun(long nowTicks, int level, int max, out int run)
    {
        ref var ready = ref _redelivered.Count != 0 ? ref _redelivered : ref _fresh;
        run = Math.Min(max, ready.Count);
        return ref ready;
    }
}
