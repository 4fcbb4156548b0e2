namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// The deliveries the broker sent ahead (its prefetch), ordered by priority and then arrival, so a
/// receiver takes the most urgent one even when lower ones arrived first: a high-priority message waits
/// for at most one free prefetch slot, not for the whole prefetched backlog.
/// </summary>
internal sealed class InboundBuffer<TMessage>
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<Inbound<TMessage>, (int Priority, long Sequence)> _queue = new();
    private long _sequence;
    private TaskCompletionSource? _signal;
    private bool _completed;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    public void Add(Inbound<TMessage> item)
    {
        TaskCompletionSource? signal;
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _queue.Enqueue(item, (-item.Message.Priority, _sequence++));
            signal = _signal;
            _signal = null;
        }

        signal?.TrySetResult();
    }

    /// <summary>Takes up to <paramref name="destination"/>'s length items, or returns a task completed when one may be there.</summary>
    public int TryTake(Span<Inbound<TMessage>> destination, out Task? wait)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            var taken = 0;
            while (taken < destination.Length && _queue.TryDequeue(out var item, out _))
            {
                destination[taken++] = item;
            }

            wait = taken == 0 ? (_signal ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : null;
            return taken;
        }
    }

    /// <summary>Puts back items a receiver took but could not lease (it was cancelled), ahead of later arrivals.</summary>
    public void Return(ReadOnlySpan<Inbound<TMessage>> items, long generation)
    {
        lock (_lock)
        {
            foreach (var item in items)
            {
                if (item.Generation == generation && !_completed)
                {
                    _queue.Enqueue(item, (-item.Message.Priority, -1));
                }
            }
        }
    }

    /// <summary>Forgets every buffered delivery (the broker took them back when their channel closed) and returns them.</summary>
    public List<Inbound<TMessage>> Clear()
    {
        var cleared = new List<Inbound<TMessage>>();
        lock (_lock)
        {
            while (_queue.TryDequeue(out var item, out _))
            {
                cleared.Add(item);
            }
        }

        return cleared;
    }

    /// <summary>
    /// Empties the buffer for good and returns what it held; waiting and later receivers get
    /// <see cref="ObjectDisposedException"/>, and later arrivals are ignored.
    /// </summary>
    public List<Inbound<TMessage>> Complete()
    {
        TaskCompletionSource? signal;
        var held = new List<Inbound<TMessage>>();
        lock (_lock)
        {
            _completed = true;
            while (_queue.TryDequeue(out var item, out _))
            {
                held.Add(item);
            }

            signal = _signal;
            _signal = null;
        }

        signal?.TrySetResult();
        return held;
    }
}
