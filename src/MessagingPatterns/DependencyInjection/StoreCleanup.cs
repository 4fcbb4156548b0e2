namespace MessagingPatterns.DependencyInjection;

/// <summary>Disposes stores built for a queue whose build then failed, which nothing else would dispose.</summary>
internal static class StoreCleanup
{
    /// <summary>
    /// Disposes <paramref name="store"/> synchronously (DI factories are synchronous), ignoring a failure to dispose
    /// so the caller can rethrow the exception that says why the build failed.
    /// </summary>
    public static void DisposeAfterFailedBuild(IAsyncDisposable store)
    {
        try
        {
            if (store is IDisposable disposable)
            {
                disposable.Dispose();
            }
            else
            {
                store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception)
        {
            // Ignored: the build's own exception, rethrown by the caller, is the one to report.
        }
    }
}
