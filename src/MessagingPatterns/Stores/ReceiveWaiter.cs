using System.Threading.Tasks.Sources;

namespace MessagingPatterns.Stores;

/// <summary>
/// A parked receiver, reused across waits so that parking allocates nothing. The store completes it
/// (under its lock) when a matching message becomes ready, when the wait is cancelled, or on disposal.
/// Continuations run asynchronously so a producer never runs a consumer's code on its own thread.
/// </summary>
internal sealed class ReceiveWaiter : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>The store that parked this receiver.</summary>
    public object? Owner { get; set; }

    /// <summary>The priority level this receiver takes, or <see cref="InMemoryStoreBase{TMessage}.AnyLevel"/>.</summary>
    public int Level { get; set; }

    /// <summary>The cancellation registration of the current wait.</summary>
    public CancellationTokenRegistration Registration { get; set; }

    /// <summary>The token of the current wait.</summary>
    public CancellationToken CancellationToken { get; set; }

    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>Wakes the receiver: <see langword="true"/> to look for messages.</summary>
    public void Wake() => _core.SetResult(true);

    public void Fail(Exception exception) => _core.SetException(exception);

    public void Reset()
    {
        _core.Reset();
        Registration = default;
        CancellationToken = default;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
