using System.Diagnostics.Metrics;
using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Producers;
using MessagingPatterns.StoreAuthoring;
using MessagingPatterns.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers queues — a store, its producer and its consumers — in an <see cref="IServiceCollection"/>.</summary>
public static class MessagingServiceCollectionExtensions
{
    /// <summary>
    /// Registers a named queue over the store <paramref name="storeFactory"/> builds: a keyed singleton
    /// <see cref="IMessageStore{TMessage}"/> and <see cref="IProducer{TMessage}"/> under <paramref name="name"/>.
    /// The first queue of a message type is also registered without a key. Every registration is a
    /// <c>TryAdd</c>, so an earlier registration of any part wins. A queue name can be registered once per
    /// service collection, by this or any other method that registers a queue.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="storeFactory">Builds the store from the services and the queue's name.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="storeFactory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddMessageQueue<TMessage>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, string, IMessageStore<TMessage>> storeFactory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(storeFactory);
        QueueNames.ThrowIfInvalid(name);
        QueueNameRegistry.Add<TMessage>(services, name);

        var builder = new MessageQueueBuilder<TMessage>(services, name);
        services.TryAddSingleton(TimeProvider.System);

        // The container's meter factory when it has one (a host's does), so instruments live and die with it.
        services.TryAddSingleton(static provider => MessagingInstruments.From(provider.GetService<IMeterFactory>()));
        services.TryAddKeyedSingleton<IMessageStore<TMessage>>(name, (provider, _) => builder.Decorate(provider, storeFactory(provider, name)));
        services.TryAddKeyedSingleton<IProducer<TMessage>>(name, (provider, _) => new StoreProducer<TMessage>(
            provider.GetRequiredKeyedService<IMessageStore<TMessage>>(name), provider.GetRequiredService<MessagingInstruments>()));
        services.TryAddSingleton(provider => provider.GetRequiredKeyedService<IMessageStore<TMessage>>(name));
        services.TryAddSingleton(provider => provider.GetRequiredKeyedService<IProducer<TMessage>>(name));
        return builder;
    }

    /// <summary>
    /// Registers a queue over a store the caller already has and keeps owning: the container never disposes
    /// it, so several hosts in one process can share one store, each with its own consumers, and stopping one
    /// host leaves the store working for the others. The queue is named after the store
    /// (<see cref="IMessageStore{TMessage}.Name"/>) and registered as <see cref="AddMessageQueue{TMessage}(IServiceCollection, string, Func{IServiceProvider, string, IMessageStore{TMessage}})"/>
    /// registers it; the container sees the store as a plain <see cref="IMessageStore{TMessage}"/> (that still hands
    /// back unstarted messages to its consumers if it is an <see cref="IPreemptibleStore{TMessage}"/>). Dispose the
    /// store yourself once every host using it has stopped.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="store">The store, owned by the caller.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="store"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The store's name is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddMessageQueue<TMessage>(this IServiceCollection services, IMessageStore<TMessage> store)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(store);
        return services.AddMessageQueue<TMessage>(store.Name, (_, _) => BorrowedStore<TMessage>.For(store));
    }

    /// <summary>Registers an in-memory FIFO queue named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryQueue<TMessage>(
        this IServiceCollection services, Action<InMemoryQueueOptions>? configure = null) =>
        services.AddInMemoryQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers an in-memory FIFO queue: the fast default for competing consumers in one process.
    /// Its messages live as long as the process.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers and store decorators.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryQueue<TMessage>(
        this IServiceCollection services, string name, Action<InMemoryQueueOptions>? configure = null)
    {
        // The queue first: it refuses a name already registered before the options of that name are configured.
        var builder = services.AddMessageQueue<TMessage>(name, static (provider, queue) => new InMemoryQueueStore<TMessage>(
            queue,
            provider.GetRequiredService<IOptionsMonitor<InMemoryQueueOptions>>().Get(queue),
            provider.GetRequiredService<TimeProvider>()));
        services.AddValidatedOptions<InMemoryQueueOptions, InMemoryQueueOptionsValidator>(name, configure);
        return builder;
    }
}
