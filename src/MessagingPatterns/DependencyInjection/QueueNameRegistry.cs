using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// The queue names registered in one service collection, kept in that collection. Queues of one name would share
/// keyed registrations, options and (in a database) tables, so a repeated name fails at registration instead of
/// one queue silently dropping the other's decorators or taking its messages.
/// </summary>
internal sealed class QueueNameRegistry
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly List<RegisteredQueue> _queues = [];

    /// <summary>The queues registered so far, in registration order.</summary>
    public IReadOnlyList<RegisteredQueue> Queues => _queues;

    /// <summary>Records the queue <paramref name="name"/> of <typeparamref name="TMessage"/> as registered in <paramref name="services"/>.</summary>
    /// <exception cref="ArgumentException">A queue of that name is already registered in <paramref name="services"/>.</exception>
    public static void Add<TMessage>(IServiceCollection services, string name)
    {
        var registry = Find(services);
        if (registry is null)
        {
            registry = new QueueNameRegistry();
            services.AddSingleton(registry);
        }

        if (!registry._names.Add(name))
        {
            throw new ArgumentException(
                $"A queue named '{name}' is already registered in this service collection: each queue needs a name of its own.", nameof(name));
        }

        registry._queues.Add(new RegisteredQueue(name, (provider, cancellationToken) =>
            provider.GetRequiredKeyedService<IMessageStore<TMessage>>(name).GetStatisticsAsync(cancellationToken)));
    }

    private static QueueNameRegistry? Find(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            // ImplementationInstance throws for keyed descriptors, so those are skipped first.
            if (!descriptor.IsKeyedService && descriptor.ImplementationInstance is QueueNameRegistry registry)
            {
                return registry;
            }
        }

        return null;
    }
}
