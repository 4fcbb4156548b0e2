namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// A periodic timer that does not keep its owner alive: the runtime's timer queue holds a timer's state for as long
/// as the timer runs, so a timer holding its owner would root a buffer its user dropped without disposing. Once the
/// owner is collected, the timer stops itself.
/// </summary>
internal static class WeakTimer
{
    /// <summary>Starts a timer that calls <paramref name="tick"/> on <paramref name="owner"/> while the owner lives.</summary>
    public static ITimer Start<TOwner>(TimeProvider timeProvider, TOwner owner, Action<TOwner> tick, TimeSpan dueTime, TimeSpan period)
        where TOwner : class
    {
        var state = new State<TOwner>(new WeakReference<TOwner>(owner), tick);
        var timer = timeProvider.CreateTimer(static s => ((State<TOwner>)s!).Tick(), state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        state.Timer = timer;
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class State<TOwner>(WeakReference<TOwner> owner, Action<TOwner> tick)
        where TOwner : class
    {
        public ITimer? Timer { get; set; }

        public void Tick()
        {
            if (owner.TryGetTarget(out var target))
            {
                tick(target);
            }
            else
            {
                Timer?.Dispose();
            }
        }
    }
}
