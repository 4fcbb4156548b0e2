using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace MessagingPatterns.Stores;

/// <summary>
/// A FIFO list of messages linked through <see cref="Message{TMessage}.Next"/> (not thread-safe; stores
/// use it under their lock).
/// </summary>
/// <remarks>
/// An in-memory store holds a published message in at most one list at a time (arrivals or one ready
/// list), so the link needs no storage of its own. Compared with <see cref="Queue{T}"/> this saves the
/// array slot, its type check and, with a backlog, the write barrier's card marking on a long-lived array
/// that points at young messages.
/// </remarks>
internal struct MessageList<TMessage>
{
    private Message<TMessage>? _head;
    private Message<TMessage>? _tail;

    public int Count { get; private set; }

    /// <summary>The oldest message; only valid when <see cref="Count"/> is not 0.</summary>
    public readonly Message<TMessage> Head => _head!;

    public void Enqueue(Message<TMessage> message)
    {
        if (_tail is null)
        {
            _head = message;
        }
        else
        {
            _tail.Next = message;
        }

        _tail = message;
        Count++;
    }

    /// <summary>
    /// Inserts a message where its <see cref="Message{TMessage}.Sequence"/> puts it, in a list kept in sequence
    /// order. Checked against the tail first: messages usually come back in order (the store sorts each round of
    /// expired leases), so the walk is for the odd one released out of turn.
    /// </summary>
    public void InsertInOrder(Message<TMessage> message)
    {
        if (_tail is null || _tail.Sequence < message.Sequence)
        {
            Enqueue(message);
            return;
        }

        if (message.Sequence < _head!.Sequence)
        {
            message.Next = _head;
            _head = message;
        }
        else
        {
            var previous = _head;
            while (previous.Next!.Sequence < message.Sequence)
            {
                previous = previous.Next;
            }

            message.Next = previous.Next;
            previous.Next = message;
        }

        Count++;
    }

    /// <summary>Removes the oldest message; only valid when <see cref="Count"/> is not 0.</summary>
    public Message<TMessage> Dequeue()
    {
        var message = _head!;
        var next = message.Next;
        _head = next;
        if (next is null)
        {
            _tail = null;
        }
        else
        {
            Prefetch(next);
        }

        // Unlinked, so a message a handler keeps does not keep the rest of the list alive.
        message.Next = null;
        Count--;
        return message;
    }

    /// <summary>
    /// Starts loading the list's new head into the cache, ahead of the dequeue that reads it. The priority
    /// stores take short runs from several lists in turn, and with a backlog those messages are no longer in
    /// the cache; the hardware prefetcher follows one list walked in order (the FIFO store), not this.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(Message<TMessage> message)
    {
        if (Sse.IsSupported)
        {
            // Only a hint: if the collector moves the message meanwhile, the load is wasted, never wrong.
            Sse.Prefetch0((void*)Unsafe.As<Message<TMessage>, nint>(ref message));
        }
    }
}
