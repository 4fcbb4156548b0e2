namespace MessagingPatterns.Tests.Support;

/// <summary>Every await in the tests is bounded, so a deadlock fails the test instead of hanging the run.</summary>
public static class Bounded
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Patience);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    public static Task Within(this ValueTask task) => task.AsTask().WaitAsync(Patience);

    public static Task<T> Within<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Patience);
}
