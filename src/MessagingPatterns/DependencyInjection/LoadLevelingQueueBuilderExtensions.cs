using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.LoadLeveling;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Adds a load-leveling buffer to a queue registered in DI.</summary>
public static class LoadLevelingQueueBuilderExtensions
{
    /// <summary>
    /// Wraps the queue's store in a load-leveling buffer (see <see cref="LoadLevelingOptions"/>): bounded capacity with
    /// a full-mode, consumers paced by a rate limiter, optional overflow. The options are named after the queue and
    /// validated when the host starts, and the host refuses to start if
    /// <see cref="LoadLevelingOptions.RequireNoDataLoss"/> is set and the configuration can lose messages. The buffer
    /// is also registered as a keyed <see cref="ILoadLevelingStore{TMessage}"/> under the queue's name, for snapshots.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="builder">The queue's builder.</param>
    /// <param name="configure">Configures the buffer's options.</param>
    /// <param name="overflowStore">
    /// Builds the store publishes spill to while the buffer is full (a durable store, dedicated to this queue), or
    /// <see langword="null"/> for the one set with <see cref="WithOverflow{TMessage}"/>, if any. The buffer owns and
    /// disposes it (at once if the buffer refuses to be built).
    /// </param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static MessageQueueBuilder<TMessage> WithLoadLeveling<TMessage>(
        this MessageQueueBuilder<TMessage> builder,
        Action<LoadLevelingOptions>? configure = null,
        Func<IServiceProvider, IMessageStore<TMessage>>? overflowStore = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var queue = builder.Name;
        services.AddValidatedOptions<LoadLevelingOptions, LoadLevelingOptionsValidator>(queue, configure);
        services.TryAddKeyedSingleton<LoadLevelingStoreHolder<TMessage>>(queue);
        services.TryAddKeyedSingleton<ILoadLevelingStore<TMessage>>(queue, (provider, _) =>
        {
            // Building the queue's store runs the decorator, which fills the holder.
            _ = provider.GetRequiredKeyedService<IMessageStore<TMessage>>(queue);
            return provider.GetRequiredKeyedService<LoadLevelingStoreHolder<TMessage>>(queue).Store
                ?? throw new InvalidOperationException($"The store of queue '{queue}' was registered without its load-leveling decorator.");
        });
        services.AddSingleton<IHostedService>(provider =>
            new LoadLevelingStartupCheck(() => provider.GetRequiredKeyedService<IMessageStore<TMessage>>(queue)));

        return builder.DecorateStore((provider, inner) =>
        {
            var options = provider.GetRequiredService<IOptionsMonitor<LoadLevelingOptions>>().Get(queue);
            var overflow = (overflowStore ?? provider.GetKeyedService<OverflowStoreRegistration<TMessage>>(queue)?.Create)?.Invoke(provider);
            LoadLevelingStore<TMessage> store;
            try
            {
                store = new LoadLevelingStore<TMessage>(
                    inner,
                    options,
                    overflow,
                    provider.GetService<TimeProvider>() ?? TimeProvider.System,
                    provider.GetService<ILoggerFactory>()?.CreateLogger("MessagingPatterns.LoadLeveling"),
                    provider.GetRequiredService<MessagingInstruments>());
            }
            catch when (overflow is not null)
            {
                // The buffer refused (e.g. RequireNoDataLoss with an overflow store that is not durable), so it owns
                // neither store: the inner one is disposed by the builder, the overflow one here.
                StoreCleanup.DisposeAfterFailedBuild(overflow);
                throw;
            }

            provider.GetRequiredKeyedService<LoadLevelingStoreHolder<TMessage>>(queue).Store = store;
            return store;
        });
    }

    /// <summary>
    /// Gives the queue's load-leveling buffer (see <see cref="WithLoadLeveling{TMessage}"/>) an overflow store: while
    /// the buffer is full, publishes spill there instead of waiting, failing or dropping, and move back in order as room
    /// frees. Use a durable store dedicated to this queue (the SQLite package's <c>WithSqliteOverflow</c> builds one in
    /// one line). The buffer owns and disposes it.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="builder">The queue's builder.</param>
    /// <param name="overflowStore">Builds the overflow store.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="overflowStore"/> is <see langword="null"/>.</exception>
    public static MessageQueueBuilder<TMessage> WithOverflow<TMessage>(
        this MessageQueueBuilder<TMessage> builder, Func<IServiceProvider, IMessageStore<TMessage>> overflowStore)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(overflowStore);
        builder.Services.AddKeyedSingleton(builder.Name, new OverflowStoreRegistration<TMessage>(overflowStore));
        return builder;
    }
}
