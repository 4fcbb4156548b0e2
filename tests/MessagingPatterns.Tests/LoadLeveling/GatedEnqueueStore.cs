using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>A store whose publishes wait at a gate while it is closed (a slow or stalled store), honouring cancellation.</summary>
internal sealed class GatedEnqueueStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner)
{
    private readonly SemaphoreSlim _entered = new(0);
    private TaskCompletionSource _gate = NewOpenGate();

    /// <summary>Makes publishes wait from now on.</summary>
    public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets waiting and later publishes through.</summary>
    public void Open() => _gate.TrySetResult();

    /// <summary>Waits until a publish has reached the gate (each publish counts once).</summary>
    public Task WaitForPublishAsync() => _entered.WaitAsync();

    public override async ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        _entered.Release();
        await _gate.Task.WaitAsync(cancellationToken);
        await base.EnqueueAsync(message, cancellationToken);
    }

    private static TaskCompletionSource NewOpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }
}
