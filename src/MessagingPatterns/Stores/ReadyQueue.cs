using System.Diagnostics.CodeAnalysis;

namespace MessagingPatterns.Stores;

/// <summary>
/// Ready messages as the in-memory stores order them: released and expired messages ahead of those never
/// delivered, since they are older, and in publish order among themselves whatever order they came back in
/// (not thread-safe; stores use it under their lock).
/// </summary>
internal struct ReadyQueue<TMessage>
{
    private MessageList<TMessage> _redelivered;
    private MessageList<TMessage> _fresh;

    public readonly int Count => _redelivered.Count + _fresh.Count;

    /// <summary>When the oldest of these messages was published; <see langword="null"/> when there is none.</summary>
    public readonly DateTimeOffset? OldestEnqueuedAt =>
        _redelivered.Count == 0 ? (_fresh.Count == 0 ? null : _fresh.Head.EnqueuedAt)
        : _fresh.Count == 0 || _redelivered.Head.EnqueuedAt <= _fresh.Head.EnqueuedAt ? _redelivered.Head.EnqueuedAt
        : _fresh.Head.EnqueuedAt;

    /// <summary>The list the next messages come from: the released and expired ones first. A run never spans both.</summary>
    [UnscopedRef]
    public ref MessageList<TMessage> Next => ref _redelivered.Count != 0 ? ref _redelivered : ref _fresh;

    /// <summary>Adds a message; <paramref name="redelivered"/> is true for released and expired ones.</summary>
    public void Add(Message<TMessage> message, bool redelivered)
    {
        if (redelivered)
        {
            _redelivered.InsertInOrder(message);
        }
        else
        {
            _fresh.Enqueue(message);
        }
    }
}
