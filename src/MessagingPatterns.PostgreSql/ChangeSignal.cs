namespace MessagingPatterns.PostgreSql;

/// <summary>
/// A task that completes at the next <see cref="Raise"/>: waiters take <see cref="Next"/> before they look at the
/// state it guards, so a change made after their look still wakes them. Raising with no waiter costs one exchange.
/// </summary>
internal sealed class ChangeSignal
{
    private TaskCompletionSource? _next;

    /// <summary>Completes at the next <see cref="Raise"/>.</summary>
    public Task Next()
    {
        while (true)
        {
            if (Volatile.Read(ref _next) is { } current)
            {
                return current.Task;
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref _next, created, null) is null)
            {
                return created.Task;
            }
        }
    }

    /// <summary>Completes the waiters' task.</summary>
    public void Raise() => Interlocked.Exchange(ref _next, null)?.TrySetResult();
}
