using Microsoft.Extensions.Hosting;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Builds a load-leveled queue's store when the host starts, so a configuration the buffer refuses (e.g.
/// <see cref="LoadLevelingOptions.RequireNoDataLoss"/> over a store that is not durable) stops the host at start
/// rather than at the first publish.
/// </summary>
internal sealed class LoadLevelingStartupCheck(Func<object> buildStore) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = buildStore();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
