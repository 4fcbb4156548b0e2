using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A <see cref="FakeTimeProvider"/> whose timers can hold the thread that disposes them: a store ends a
/// lease by disposing its timer, so a test can pause an expiry right after it claimed the lease and run
/// a settle in that gap.
/// </summary>
internal sealed class GatedTimeProvider(FakeTimeProvider inner) : TimeProvider
{
    private readonly ManualResetEventSlim _gate = new(initialState: true);
    private TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _armed;

    public FakeTimeProvider Inner { get; } = inner;

    /// <summary>Completes when an armed gate holds a disposing thread.</summary>
    public Task Entered => _entered.Task;

    public override DateTimeOffset GetUtcNow() => Inner.GetUtcNow();

    public override long GetTimestamp() => Inner.GetTimestamp();

    public override long TimestampFrequency => Inner.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new GatedTimer(Inner.CreateTimer(callback, state, dueTime, period), this);

    /// <summary>The next timer disposal waits until <see cref="Open"/>.</summary>
    public void Arm()
    {
        _entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gate.Reset();
        Volatile.Write(ref _armed, 1);
    }

    public void Open() => _gate.Set();

    private void OnDispose()
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _entered.TrySetResult();
            _gate.Wait(TimeSpan.FromSeconds(60));
        }
    }

    private sealed class GatedTimer(ITimer timer, GatedTimeProvider owner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => timer.Change(dueTime, period);

        public void Dispose()
        {
            owner.OnDispose();
            timer.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
