using System.Runtime.ExceptionServices;

namespace MessagingPatterns.Consumers;

/// <summary>
/// One worker's prefetch bookkeeping: its receive buffer, the part of it started and the part settled, and its reused
/// context. Each held delivery is either started by the worker or taken by a stop to be released, never both.
/// </summary>
internal sealed class ConsumerWorker<TMessage>(AttemptRunner<TMessage> attempts, int prefetch, string queueName)
{
    private readonly Lock _heldLock = new();
    private int _held;
    private int _started;
    private int _settled;

    public Delivery<TMessage>[] Buffer { get; } = new Delivery<TMessage>[prefetch];

    public MessageContext<TMessage> Context { get; } = new(queueName);

    /// <summary>Runs the worker's attempts (reached from the pipeline's static callbacks, which take the worker as state).</summary>
    public AttemptRunner<TMessage> Attempts { get; } = attempts;

    public AttemptGuard Guard { get; } = new();

    /// <summary>The services of the worker's current attempt, reused from attempt to attempt (each gets its own scope).</summary>
    public AttemptServices Services { get; } = attempts.CreateServices();

    /// <summary>The worker's loop, from start to end.</summary>
    public Task Completion { get; set; } = Task.CompletedTask;

    /// <summary>Set when the worker ended by itself because its store was disposed; the pool logs it once the worker has ended.</summary>
    public ObjectDisposedException? StoreDisposed { get; set; }

    /// <summary>The hand-back of the worker's last preempted batch, until it completes (it never fails).</summary>
    public Task HandingBack { get; set; } = Task.CompletedTask;

    /// <summary>The first attempt's failure, replayed as the default pipeline's first attempt.</summary>
    public ExceptionDispatchInfo? FirstFailure { get; set; }

    public void Hold(int count)
    {
        lock (_heldLock)
        {
            _held = count;
            _started = 0;
            _settled = 0;
        }
    }

    /// <summary>Claims the delivery at <paramref name="index"/> for its handler; false when none is left to start.</summary>
    public bool TryStart(int index)
    {
        lock (_heldLock)
        {
            if (index >= _held)
            {
                return false;
            }

            _started = index + 1;
            return true;
        }
    }

    public void Settled(int count) => Volatile.Write(ref _settled, count);

    /// <summary>Takes the deliveries not started yet, for the caller to release: they are no longer held, nor renewed.</summary>
    public Delivery<TMessage>[] TakeUnstarted()
    {
        lock (_heldLock)
        {
            // A copy: the worker's Clear zeroes the buffer.
            var unstarted = Buffer[_started.._held];
            _held = _started;
            return unstarted;
        }
    }

    public void Clear(int count)
    {
        lock (_heldLock)
        {
            _held = 0;
            _started = 0;
            Array.Clear(Buffer, 0, count);
        }
    }

    /// <summary>The id of the message the worker started last, if it holds one.</summary>
    public string? CurrentMessageId()
    {
        lock (_heldLock)
        {
            return _started > 0 && _started <= _held ? Buffer[_started - 1].Message?.Id : null;
        }
    }

    public void CollectHeld(List<LeaseToken> leases)
    {
        lock (_heldLock)
        {
            for (var i = Volatile.Read(ref _settled); i < _held; i++)
            {
                leases.Add(Buffer[i].Lease);
            }
        }
    }
}
