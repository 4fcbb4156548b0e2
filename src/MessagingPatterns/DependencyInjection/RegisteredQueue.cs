namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// A queue registered in a container, whatever its message type: its name, and how to read its store's statistics
/// from the built container (for the health checks, which see every queue).
/// </summary>
internal sealed class RegisteredQueue(string name, Func<IServiceProvider, CancellationToken, ValueTask<StoreStatistics>> readStatistics)
{
    public string Name { get; } = name;

    /// <summary>Reads the statistics of the queue's store, resolved (and built, the first time) from <paramref name="services"/>.</summary>
    public ValueTask<StoreStatistics> ReadStatisticsAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        readStatistics(services, cancellationToken);
}
