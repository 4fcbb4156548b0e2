using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Tests.Support;

/// <summary>Builds worker pools without a host, the way a test needs them.</summary>
public static class PoolFactory
{
    /// <summary>Scopes from an empty container, for pools built by hand.</summary>
    public static IServiceScopeFactory Scopes { get; } = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();

    public static ConsumerWorkerPool<TMessage> Create<TMessage>(
        IMessageStore<TMessage> store,
        Func<MessageContext<TMessage>, CancellationToken, Task> handle,
        ConsumerOptions options,
        TimeProvider? time = null)
    {
        var consumer = new DelegateConsumer<TMessage>(handle);
        return new ConsumerWorkerPool<TMessage>(store, Scopes, _ => consumer, options, time);
    }
}
