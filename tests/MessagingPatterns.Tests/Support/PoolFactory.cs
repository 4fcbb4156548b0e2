using MessagingPatterns.Consumers;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Tests.Support;

/// <summary>Builds worker pools without a host, the way a test needs them.</summary>
public static class PoolFactory
{
    private static readonly IServiceScopeFactory s_scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();

    public static ConsumerWorkerPool<TMessage> Create<TMessage>(
        IMessageStore<TMessage> store,
        Func<MessageContext<TMessage>, CancellationToken, Task> handle,
        ConsumerOptions options,
        TimeProvider? time = null)
    {
        var consumer = new DelegateConsumer<TMessage>(handle);
        return new ConsumerWorkerPool<TMessage>(store, s_scopes, _ => consumer, options, time);
    }
}
