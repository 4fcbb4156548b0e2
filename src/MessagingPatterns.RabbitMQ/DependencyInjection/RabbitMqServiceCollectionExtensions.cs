using MessagingPatterns.RabbitMQ;
using MessagingPatterns.Serialization;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers RabbitMQ queues in an <see cref="IServiceCollection"/>.</summary>
public static class RabbitMqServiceCollectionExtensions
{
    /// <summary>Registers a RabbitMQ queue named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options (a connection URI is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddRabbitMqQueue<TMessage>(
        this IServiceCollection services, Action<RabbitMqStoreOptions> configure) =>
        services.AddRabbitMqQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers a queue on a RabbitMQ broker: publishes complete on the broker's confirm, and messages
    /// survive a killed process and a broker restart. Bodies are serialized by the
    /// <see cref="IMessageSerializer{TMessage}"/> registered with the queue's name as key, else the one
    /// registered without a key, else System.Text.Json.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>); the broker's queue has the same name.</param>
    /// <param name="configure">Configures the store's options (a connection URI is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddRabbitMqQueue<TMessage>(
        this IServiceCollection services, string name, Action<RabbitMqStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        var builder = services.AddMessageQueue<TMessage>(name, static (provider, queue) => RabbitMqMessageStore.Create(
            queue,
            provider.GetRequiredService<IOptionsMonitor<RabbitMqStoreOptions>>().Get(queue),
            provider.GetKeyedService<IMessageSerializer<TMessage>>(queue) ?? provider.GetService<IMessageSerializer<TMessage>>(),
            provider.GetService<TimeProvider>(),
            provider.GetService<ILoggerFactory>()));
        services.AddValidatedOptions<RabbitMqStoreOptions, RabbitMqStoreOptionsValidator>(name, configure);
        return builder;
    }
}
