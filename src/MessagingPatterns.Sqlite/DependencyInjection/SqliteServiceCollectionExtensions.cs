using MessagingPatterns.Serialization;
using MessagingPatterns.Sqlite;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers durable SQLite queues in an <see cref="IServiceCollection"/>.</summary>
public static class SqliteServiceCollectionExtensions
{
    /// <summary>Registers a durable SQLite queue named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options (a database path is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddSqliteQueue<TMessage>(
        this IServiceCollection services, Action<SqliteStoreOptions> configure) =>
        services.AddSqliteQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers a durable SQLite queue: published messages are committed to the database file before
    /// the publish returns and survive a killed process. Bodies are serialized by the
    /// <see cref="IMessageSerializer{TMessage}"/> registered with the queue's name as key, else the one
    /// registered without a key, else System.Text.Json.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="configure">Configures the store's options (a database path is required), validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="name"/> is not a valid queue name, or a queue of that name is already registered (two queues
    /// of one name would share the database's tables, each receiving the other's messages).
    /// </exception>
    public static MessageQueueBuilder<TMessage> AddSqliteQueue<TMessage>(
        this IServiceCollection services, string name, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        // The queue first: it refuses a name already registered before the options of that name are configured.
        var builder = services.AddMessageQueue<TMessage>(name, static (provider, queue) => SqliteMessageStore.Create(
            queue,
            provider.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().Get(queue),
            provider.GetKeyedService<IMessageSerializer<TMessage>>(queue) ?? provider.GetService<IMessageSerializer<TMessage>>(),
            provider.GetService<TimeProvider>(),
            provider.GetService<ILoggerFactory>()?.CreateLogger("MessagingPatterns.Sqlite")));
        services.AddValidatedOptions<SqliteStoreOptions, SqliteStoreOptionsValidator>(name, configure);
        return builder;
    }

    /// <summary>
    /// Gives the queue's load-leveling buffer a durable SQLite overflow store, in one line: while the buffer is full,
    /// publishes are committed to SQLite instead of waiting or failing, and move back in order as room frees. The
    /// overflow queue is named after the queue with <c>-overflow</c> added (its options are named so too).
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="builder">The queue's builder, with <c>WithLoadLeveling</c>.</param>
    /// <param name="configure">Configures the SQLite store (e.g. its <see cref="SqliteStoreOptions.DatabasePath"/>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The queue's name with <c>-overflow</c> added is not a valid queue name.</exception>
    public static MessageQueueBuilder<TMessage> WithSqliteOverflow<TMessage>(this MessageQueueBuilder<TMessage> builder, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var name = $"{builder.Name}-overflow";
        QueueNames.ThrowIfInvalid(name, nameof(builder));
        builder.Services.AddValidatedOptions<SqliteStoreOptions, SqliteStoreOptionsValidator>(name, configure);
        var queue = builder.Name;
        return builder.WithOverflow(provider => SqliteMessageStore.Create(
            name,
            provider.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().Get(name),
            provider.GetKeyedService<IMessageSerializer<TMessage>>(queue) ?? provider.GetService<IMessageSerializer<TMessage>>(),
            provider.GetService<TimeProvider>(),
            provider.GetService<ILoggerFactory>()?.CreateLogger("MessagingPatterns.Sqlite")));
    }
}
