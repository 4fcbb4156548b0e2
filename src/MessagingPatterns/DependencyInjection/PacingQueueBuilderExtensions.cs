using MessagingPatterns.Pacing;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Paces the consumers of a queue registered in DI.</summary>
public static class PacingQueueBuilderExtensions
{
    /// <summary>
    /// Wraps the queue's store in the pacing decorator (see <see cref="PacingOptions"/>): consumers receive at a steady
    /// rate, with or without a load-leveling buffer. The options are named after the queue and validated when the host
    /// starts.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="builder">The queue's builder.</param>
    /// <param name="configure">Configures the rate.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static MessageQueueBuilder<TMessage> WithPacing<TMessage>(this MessageQueueBuilder<TMessage> builder, Action<PacingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var queue = builder.Name;
        builder.Services.AddValidatedOptions<PacingOptions, PacingOptionsValidator>(queue, configure);
        return builder.DecorateStore((provider, inner) => PacedStore<TMessage>.Create(
            inner,
            provider.GetRequiredService<IOptionsMonitor<PacingOptions>>().Get(queue),
            provider.GetService<TimeProvider>() ?? TimeProvider.System));
    }
}
