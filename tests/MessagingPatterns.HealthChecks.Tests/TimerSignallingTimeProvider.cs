using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.HealthChecks.Tests;

/// <summary>A fake clock that tells the test when a timer of a given due time is created, so it advances the clock after that.</summary>
internal sealed class TimerSignallingTimeProvider(DateTimeOffset start, TimeSpan watchedDueTime) : FakeTimeProvider(start)
{
    /// <summary>Completes when the first timer due after the watched time is created.</summary>
    public TaskCompletionSource TimerCreated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime == watchedDueTime)
        {
            TimerCreated.TrySetResult();
        }

        return timer;
    }
}
