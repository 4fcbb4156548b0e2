using Microsoft.Extensions.Hosting;

namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// The one hosted service that runs every consumer pool registered in a container. A host stops its hosted
/// services one after another, so pools registered as services of their own would drain one after another, and
/// the later ones would get an already-expired host token; here they start together and stop together, sharing
/// the drain.
/// </summary>
internal sealed class ConsumerPoolsHostedService(IEnumerable<RegisteredConsumerPool> pools) : IHostedService
{
    private readonly RegisteredConsumerPool[] _pools = [.. pools];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var registered in _pools)
        {
            await registered.Pool.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Array.ConvertAll(_pools, registered => registered.Pool.StopAsync(cancellationToken)));
}
