using MessagingPatterns.Diagnostics;
using MessagingPatterns.Priority;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Registers the in-memory priority stores and per-level consumer pools.</summary>
public static class PriorityServiceCollectionExtensions
{
    /// <summary>Registers an in-memory priority queue (one queue that reorders) named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers (also per level, with <see cref="AddLevelConsumer{TMessage, TConsumer}"/>).</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryPriorityQueue<TMessage>(
        this IServiceCollection services, Action<PriorityQueueOptions>? configure = null) =>
        services.AddInMemoryPriorityQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers an in-memory priority queue (one queue that reorders): higher priorities first, FIFO within a
    /// priority, optional aging. Its messages live as long as the process. Besides the queue's store and producer,
    /// the store itself resolves as <see cref="IPriorityMessageStore{TMessage}"/> keyed by the queue's name (for
    /// per-level views and ready counts, whatever decorators the queue has; publish through the producer).
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers (also per level, with <see cref="AddLevelConsumer{TMessage, TConsumer}"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryPriorityQueue<TMessage>(
        this IServiceCollection services, string name, Action<PriorityQueueOptions>? configure = null)
    {
        // The queue first: it refuses a name already registered before the options of that name are configured.
        var builder = services.AddPriorityStore<TMessage>(name, static (provider, queue) =>
        {
            var options = provider.GetRequiredService<IOptionsMonitor<PriorityQueueOptions>>().Get(queue);
            return new LevelQueueStore<TMessage>(queue, options.Levels, options.ToScheduler(), options.Capacity ?? int.MaxValue, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<MessagingInstruments>());
        });
        services.AddValidatedOptions<PriorityQueueOptions, PriorityQueueOptionsValidator>(name, configure);
        return builder;
    }

    /// <summary>Registers an in-memory multi-queue store (one queue per level) named <see cref="QueueNames.Default"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers (also per level, with <see cref="AddLevelConsumer{TMessage, TConsumer}"/>).</returns>
    /// <exception cref="ArgumentException">A queue named <see cref="QueueNames.Default"/> is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryMultiQueue<TMessage>(
        this IServiceCollection services, Action<MultiQueueOptions>? configure = null) =>
        services.AddInMemoryMultiQueue<TMessage>(QueueNames.Default, configure);

    /// <summary>
    /// Registers an in-memory multi-queue store (one FIFO queue per priority level) with strict, weighted or
    /// deadline scheduling across levels, or a scheduler of your own (<see cref="MultiQueueOptions.Scheduler"/>).
    /// Its messages live as long as the process. Besides the queue's store and producer, the store itself resolves
    /// as <see cref="IPriorityMessageStore{TMessage}"/> keyed by the queue's name (for per-level views and ready
    /// counts, whatever decorators the queue has; publish through the producer).
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>).</param>
    /// <param name="configure">Configures the store's options, validated at start.</param>
    /// <returns>A builder to add consumers (also per level, with <see cref="AddLevelConsumer{TMessage, TConsumer}"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or a queue of that name is already registered.</exception>
    public static MessageQueueBuilder<TMessage> AddInMemoryMultiQueue<TMessage>(
        this IServiceCollection services, string name, Action<MultiQueueOptions>? configure = null)
    {
        // The queue first: it refuses a name already registered before the options of that name are configured.
        var builder = services.AddPriorityStore<TMessage>(name, static (provider, queue) =>
        {
            var options = provider.GetRequiredService<IOptionsMonitor<MultiQueueOptions>>().Get(queue);
            return new LevelQueueStore<TMessage>(queue, options.Levels, options.ToScheduler(), options.Capacity ?? int.MaxValue, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<MessagingInstruments>());
        });
        services.AddValidatedOptions<MultiQueueOptions, MultiQueueOptionsValidator>(name, configure);
        return builder;
    }

    /// <summary>
    /// Adds a consumer worker pool dedicated to one priority level of the queue's store, so each level gets its
    /// own workers (e.g. 8 for premium, 2 for free). Messages of other levels are left to other pools; a level
    /// with no pool of its own is consumed only by pools added with <c>AddConsumer</c>.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <typeparam name="TConsumer">The handler type.</typeparam>
    /// <param name="builder">The queue's builder; its store must be a priority store (<see cref="IPriorityMessageStore{TMessage}"/>).</param>
    /// <param name="level">The priority level the pool receives, 0 to the store's levels - 1.</param>
    /// <param name="configure">Configures this pool's options, validated at start.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="level"/> is outside 0..<see cref="Message{TMessage}.MaxPriority"/>; a level outside the store's levels fails when the pool is built.</exception>
    public static MessageQueueBuilder<TMessage> AddLevelConsumer<TMessage, TConsumer>(
        this MessageQueueBuilder<TMessage> builder, int level, Action<ConsumerOptions>? configure = null)
        where TConsumer : class, IConsumer<TMessage>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, Message<TMessage>.MaxPriority);

        var queue = builder.Name;

        // The service count makes the options name unique per pool, so two pools of one level keep their own options.
        var optionsName = $"{queue}/level-{level}/{builder.Services.Count}";
        return builder.AddConsumer<TConsumer>(
            store => store is IPriorityMessageStore<TMessage> levels
                ? levels.ForLevel(level)
                : throw new InvalidOperationException(
                    $"Queue '{queue}' has no priority levels: per-level consumers need a priority store (AddInMemoryPriorityQueue or AddInMemoryMultiQueue) that no decorator hides."),
            configure,
            optionsName);
    }

    /// <summary>
    /// Registers a queue whose store is a priority store, also resolvable (undecorated) as a keyed
    /// <see cref="IPriorityMessageStore{TMessage}"/>: one instance behind both.
    /// </summary>
    private static MessageQueueBuilder<TMessage> AddPriorityStore<TMessage>(
        this IServiceCollection services, string name, Func<IServiceProvider, string, LevelQueueStore<TMessage>> create)
    {
        // The queue first: it refuses a name already registered before anything else is added.
        var builder = services.AddMessageQueue<TMessage>(name, static (provider, queue) => provider.GetRequiredKeyedService<IPriorityMessageStore<TMessage>>(queue));
        services.TryAddKeyedSingleton<IPriorityMessageStore<TMessage>>(name, (provider, queue) => create(provider, (string)queue!));
        return builder;
    }
}
