using MessagingPatterns.Producers;

namespace MessagingPatterns;

/// <summary>Creates producers without DI.</summary>
public static class Producer
{
    /// <summary>Creates a producer that publishes to <paramref name="store"/>.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="store">The store.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is <see langword="null"/>.</exception>
    public static IProducer<TMessage> Create<TMessage>(IMessageStore<TMessage> store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new StoreProducer<TMessage>(store);
    }
}
