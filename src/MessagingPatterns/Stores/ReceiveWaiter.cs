using System.Threading.Tasks.Sources;

namespace MessagingPatterns.Stores;

/// <summary>
/// A parked receiver, reused across waits so that parking allocates nothing. The store completes it
/// (under its lock) when a matching message becomes ready, when the wait is cancelled, or on disposal.
/// </summary>
/// <remarks>
/// The completion is handed to the thread pool with the waiter itself as the work item, so a producer never
/// runs a consumer's code on its own thread and a wake-up allocates nothing (letting the value-task core
/// schedule its continuation would allocate a work item per wake-up, which on a busy queue is often).
/// </remarks>
internal sealed class ReceiveWaiter : IValueTaskSource<bool>, IThreadPoolWorkItem
{
    private ManualResetValueTaskSourceCore<bool> _core;
    private Exception? _failure;

    /// <summary>The store that parked this receiver.</summary>
    public object? Owner { get; set; }

    /// <summary>The priority level this receiver takes, or <see cref="InMemoryStoreBase{TMessage}.AnyLevel"/>.</summary>
    public int Level { get; set; }

    /// <summary>The cancellation registration of the current wait.</summary>
    public CancellationTokenRegistration Registration { get; set; }

    /// <summary>The token of the current wait.</summary>
    public CancellationToken CancellationToken { get; set; }

    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>Wakes the receiver, on a thread-pool thread, to look for messages.</summary>
    public void Wake() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    /// <summary>Ends the wait with <paramref name="exception"/>, on a thread-pool thread.</summary>
    public void Fail(Exception exception)
    {
        _failure = exception;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void Reset()
    {
        _core.Reset();
        _failure = null;
        Registration = default;
        CancellationToken = default;
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_failure is { } failure)
        {
            _core.SetException(failure);
        }
        else
        {
            _core.SetResult(true);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
