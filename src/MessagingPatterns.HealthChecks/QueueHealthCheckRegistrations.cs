using MessagingPatterns.DependencyInjection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.HealthChecks;

/// <summary>
/// Adds one health check per registered queue when the health-check options are first read, that is after the
/// container is built, so queues registered after <c>AddMessagingHealthChecks</c> get theirs too.
/// </summary>
internal sealed class QueueHealthCheckRegistrations(IServiceProvider services) : IConfigureOptions<HealthCheckServiceOptions>
{
    /// <summary>The tag every queue's health check carries, to filter them on a health endpoint.</summary>
    public const string Tag = "messaging";

    public void Configure(HealthCheckServiceOptions options)
    {
        var registry = services.GetService<QueueNameRegistry>();
        if (registry is null)
        {
            return;
        }

        foreach (var queue in registry.Queues)
        {
            options.Registrations.Add(new HealthCheckRegistration(
                $"{Tag}:{queue.Name}",
                provider => new QueueHealthCheck(queue, provider),
                failureStatus: null,
                tags: [Tag]));
        }
    }
}
