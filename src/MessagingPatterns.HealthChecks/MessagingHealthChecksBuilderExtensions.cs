using MessagingPatterns.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers the health checks of every MessagingPatterns queue.</summary>
public static class MessagingHealthChecksBuilderExtensions
{
    /// <summary>
    /// Registers one health check per queue in the container, named <c>messaging:{queue}</c> and tagged
    /// <c>messaging</c>, including queues registered after this call. A check is unhealthy when a consumer pool of
    /// its queue has not started, has stopped or has faulted, or when the store does not answer within
    /// <see cref="MessagingHealthCheckOptions.StoreTimeout"/>; degraded when the queue's ready messages or its
    /// oldest ready message's age pass the thresholds; healthy otherwise. Calling it again adds no second set.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="configure">Configures the thresholds of every queue (validated at start); one queue's can be set on the options named after it.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IHealthChecksBuilder AddMessagingHealthChecks(this IHealthChecksBuilder builder, Action<MessagingHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (configure is not null)
        {
            services.ConfigureAll(configure);
        }

        services.AddOptions<MessagingHealthCheckOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MessagingHealthCheckOptions>, MessagingHealthCheckOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<HealthCheckServiceOptions>, QueueHealthCheckRegistrations>());
        return builder;
    }
}
