using MessagingPatterns.PostgreSql;
using MessagingPatterns.Serialization;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers PostgreSQL queues in an <see cref="IServiceCollection"/>.</summary>
public static class PostgreSqlServiceCollectionExtensions
{
    /// <summary>Registers a PostgreSQL queue named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options (a connection string is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddPostgreSqlQueue<TMessage>(
        this IServiceCollection services, Action<PostgreSqlStoreOptions> configure) =>
        services.AddPostgreSqlQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers a PostgreSQL queue: published messages are committed to the database before the publish returns,
    /// and consumers in any process sharing the database compete for them. Bodies are serialized by the
    /// <see cref="IMessageSerializer{TMessage}"/> registered with the queue's name as key, else the one registered
    /// without a key, else System.Text.Json. The undecorated store is also registered, keyed by the name, as
    /// <see cref="IPostgreSqlMessageStore{TMessage}"/>, for publishing inside the application's transaction.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="configure">Configures the store's options (a connection string is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="name"/> is not a valid queue name, or a queue of that name is already registered (two queues of
    /// one name would share rows, each receiving the other's messages).
    /// </exception>
    public static MessageQueueBuilder<TMessage> AddPostgreSqlQueue<TMessage>(
        this IServiceCollection services, string name, Action<PostgreSqlStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        // The queue first: it refuses a name already registered before the options of that name are configured.
        var builder = services.AddMessageQueue<TMessage>(name, static (provider, queue) =>
            provider.GetRequiredKeyedService<IPostgreSqlMessageStore<TMessage>>(queue));
        services.TryAddKeyedSingleton<IPostgreSqlMessageStore<TMessage>>(name, static (provider, key) =>
        {
            var queue = (string)key!;
            return PostgreSqlMessageStore.Create(
                queue,
                provider.GetRequiredService<IOptionsMonitor<PostgreSqlStoreOptions>>().Get(queue),
                provider.GetKeyedService<IMessageSerializer<TMessage>>(queue) ?? provider.GetService<IMessageSerializer<TMessage>>(),
                provider.GetService<TimeProvider>(),
                provider.GetService<ILoggerFactory>()?.CreateLogger("MessagingPatterns.PostgreSql"));
        });
        services.AddValidatedOptions<PostgreSqlStoreOptions, PostgreSqlStoreOptionsValidator>(name, configure);
        return builder;
    }
}
