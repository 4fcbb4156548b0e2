namespace MessagingPatterns.LoadLeveling;

/// <summary>A publish on its way through a full buffer's slow path: one message or a batch, with its size in bytes.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class PendingPublish<TMessage>
{
    private readonly Message<TMessage>? _single;
    private readonly IReadOnlyList<Message<TMessage>>? _batch;

    /// <summary>A publish of one message.</summary>
    public PendingPublish(Message<TMessage> message, long size)
    {
        _single = message;
        Size = size;
    }

    /// <summary>A publish of a batch.</summary>
    public PendingPublish(IReadOnlyList<Message<TMessage>> messages, long size)
    {
        _batch = messages;
        Size = size;
    }

    /// <summary>Gets how many messages it holds.</summary>
    public int Count => _batch?.Count ?? 1;

    /// <summary>Gets their size in bytes (0 without a byte bound).</summary>
    public long Size { get; }

    /// <summary>Gets its messages.</summary>
    public IEnumerable<Message<TMessage>> Messages => _batch ?? [_single!];

    /// <summary>Enqueues it into <paramref name="store"/>, as one enqueue or one batch.</summary>
    public ValueTask EnqueueAsync(IMessageStore<TMessage> store, CancellationToken cancellationToken) =>
        _batch is null ? store.EnqueueAsync(_single!, cancellationToken) : store.EnqueueBatchAsync(_batch, cancellationToken);
}
