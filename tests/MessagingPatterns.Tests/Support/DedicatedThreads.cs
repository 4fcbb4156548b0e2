namespace MessagingPatterns.Tests.Support;

/// <summary>
/// Runs racing test bodies on threads of their own: a body that blocks on a barrier would otherwise hold
/// thread-pool threads that every test running in parallel needs (two cores start with two).
/// </summary>
public static class DedicatedThreads
{
    /// <summary>Runs <paramref name="body"/> once per thread, passing the thread's index.</summary>
    public static Task Run(int count, Action<int> body) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(index => Task.Factory.StartNew(
            () => body(index), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)));
}
