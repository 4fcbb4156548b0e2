using MessagingPatterns.Consumers;
using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Configures one named queue: its store's decorators and its consumers.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public sealed class MessageQueueBuilder<TMessage>
{
    private readonly List<Func<IServiceProvider, IMessageStore<TMessage>, IMessageStore<TMessage>>> _decorators = [];
    private readonly HashSet<string> _optionsNames = new(StringComparer.Ordinal);

    internal MessageQueueBuilder(IServiceCollection services, string name)
    {
        Services = services;
        Name = name;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The queue's name: the key of its keyed <see cref="IMessageStore{TMessage}"/> and <see cref="IProducer{TMessage}"/>.</summary>
    public string Name { get; }

    /// <summary>
    /// Wraps the queue's store, e.g. in a load-leveling buffer. Decorators apply in the order added, the
    /// last outermost; a decorator owns (and disposes) the store it wraps. If a decorator throws, the store it was
    /// given is disposed before the exception propagates.
    /// </summary>
    /// <param name="decorator">Builds the wrapping store from the services and the inner store.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="decorator"/> is <see langword="null"/>.</exception>
    public MessageQueueBuilder<TMessage> DecorateStore(Func<IServiceProvider, IMessageStore<TMessage>, IMessageStore<TMessage>> decorator)
    {
        ArgumentNullException.ThrowIfNull(decorator);
        _decorators.Add(decorator);
        return this;
    }

    /// <summary>
    /// Adds a consumer worker pool that runs <typeparamref name="TConsumer"/> for this
    /// queue's messages, a new instance per attempt with a DI scope of its own (so its scoped dependencies are
    /// per attempt too, and a disposable handler is disposed with the scope). <typeparamref name="TConsumer"/> is
    /// registered as transient unless it is already registered, in which case that registration applies. The
    /// attempt's scope is created when the handler first needs a service that is not a singleton: a handler that
    /// depends only on singletons (loggers, options, clients) costs no scope per message. Call it again to add another competing pool, with its own handler type and options.
    /// One hosted service runs every pool of the container: they start together and stop together, sharing the drain.
    /// The pool's options are named <c>{queue}/{consumer type name}</c> (<c>/2</c>, <c>/3</c>... appended for further
    /// pools of the same consumer type on this queue): option errors name them that way, and configuration binds to
    /// that name, e.g. <c>services.Configure&lt;ConsumerOptions&gt;("orders/OrderConsumer", configuration.GetSection("Consumers:orders:OrderConsumer"))</c>.
    /// </summary>
    /// <typeparam name="TConsumer">The handler type.</typeparam>
    /// <param name="configure">Configures the pool's options, validated at start.</param>
    /// <returns>This builder.</returns>
    public MessageQueueBuilder<TMessage> AddConsumer<TConsumer>(Action<ConsumerOptions>? configure = null)
        where TConsumer : class, IConsumer<TMessage>
    {
        return AddConsumerPool<TConsumer>(configure, NextOptionsName(typeof(TConsumer).Name));
    }

    /// <summary>
    /// Adds a consumer worker pool over a store picked from the queue's store, e.g. one priority level of
    /// a multi-queue store. Store packages build their per-level registrations on this.
    /// <typeparamref name="TConsumer"/> is resolved as with <see cref="AddConsumer{TConsumer}(Action{ConsumerOptions}?)"/>.
    /// </summary>
    /// <typeparam name="TConsumer">The handler type.</typeparam>
    /// <param name="storeSelector">Picks the store the pool receives from, given the queue's store.</param>
    /// <param name="configure">Configures the pool's options, validated at start.</param>
    /// <param name="optionsName">The name of the pool's options; distinct per pool when pools need different options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="storeSelector"/> is <see langword="null"/>.</exception>
    public MessageQueueBuilder<TMessage> AddConsumer<TConsumer>(
        Func<IMessageStore<TMessage>, IMessageStore<TMessage>> storeSelector,
        Action<ConsumerOptions>? configure,
        string optionsName)
        where TConsumer : class, IConsumer<TMessage>
    {
        ArgumentNullException.ThrowIfNull(storeSelector);
        ArgumentException.ThrowIfNullOrWhiteSpace(optionsName);
        return AddConsumerPool<TConsumer>(configure, optionsName, storeSelector);
    }

    /// <summary>
    /// The name of the options of the next pool of <paramref name="consumerName"/>: <c>{queue}/{consumer}</c>, then
    /// <c>{queue}/{consumer}/2</c> and so on for further pools of the same consumer on this queue. Option errors name
    /// it, and it is the name to bind: <c>services.Configure&lt;ConsumerOptions&gt;("orders/OrderConsumer", section)</c>.
    /// </summary>
    private string NextOptionsName(string consumerName)
    {
        var name = $"{Name}/{consumerName}";
        for (var n = 2; !_optionsNames.Add(name); n++)
        {
            name = $"{Name}/{consumerName}/{n}";
        }

        return name;
    }

    internal IMessageStore<TMessage> Decorate(IServiceProvider services, IMessageStore<TMessage> store)
    {
        foreach (var decorator in _decorators)
        {
            try
            {
                store = decorator(services, store);
            }
            catch
            {
                // A decorator that throws has not taken the store over, and the container never sees it: without
                // this, an open database connection (and its writer thread) would outlive the failed resolution.
                StoreCleanup.DisposeAfterFailedBuild(store);
                throw;
            }
        }

        return store;
    }

    private MessageQueueBuilder<TMessage> AddConsumerPool<TConsumer>(
        Action<ConsumerOptions>? configure,
        string optionsName,
        Func<IMessageStore<TMessage>, IMessageStore<TMessage>>? storeSelector = null)
        where TConsumer : class, IConsumer<TMessage>
    {
        // Registered as itself, not as the queue's IConsumer<TMessage>, so pools of one queue each run their own type.
        Services.TryAddTransient<TConsumer>();
        Services.AddValidatedOptions<ConsumerOptions, ConsumerOptionsValidator>(optionsName, configure);

        var queue = Name;
        var collection = Services;

        // One hosted service runs every pool, so the pools of a host stop together.
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConsumerPoolsHostedService>());
        Services.AddSingleton(services =>
        {
            var store = services.GetRequiredKeyedService<IMessageStore<TMessage>>(queue);

            // Read when the container is built, so registrations made after AddConsumer count too.
            return new RegisteredConsumerPool(new ConsumerWorkerPool<TMessage>(
                storeSelector is null ? store : storeSelector(store),
                services.GetRequiredService<IServiceScopeFactory>(),
                ScopeFreeServices.From(collection, services),
                ConsumerActivation.For<TMessage, TConsumer>(collection),
                services.GetRequiredService<IOptionsMonitor<ConsumerOptions>>().Get(optionsName),
                services.GetService<TimeProvider>(),
                services.GetService<ILogger<ConsumerWorkerPool<TMessage>>>(),
                services.GetRequiredService<MessagingInstruments>()));
        });
        return this;
    }
}
