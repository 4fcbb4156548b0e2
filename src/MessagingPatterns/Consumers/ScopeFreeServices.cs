using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Consumers;

/// <summary>
/// The services a handler attempt can take from the root provider without a scope of its own: those whose
/// effective registration (the last one for the type, a closed registration before an open generic one) is a
/// singleton, so the root gives the very instance a scope would. Built from the service collection once the
/// container is built; <see cref="None"/> (everything needs the scope) when there is no collection to read.
/// </summary>
internal sealed class ScopeFreeServices
{
    private readonly IServiceProvider? _root;
    private readonly HashSet<Type> _singletons;
    private readonly HashSet<Type> _otherLifetimes;

    private ScopeFreeServices(IServiceProvider? root, HashSet<Type> singletons, HashSet<Type> otherLifetimes)
    {
        _root = root;
        _singletons = singletons;
        _otherLifetimes = otherLifetimes;
    }

    /// <summary>Nothing is served without a scope.</summary>
    public static ScopeFreeServices None { get; } = new(null, [], []);

    /// <summary>Reads which non-keyed service types of <paramref name="services"/> are singletons, served by <paramref name="root"/>.</summary>
    public static ScopeFreeServices From(IServiceCollection services, IServiceProvider root)
    {
        var lastLifetime = new Dictionary<Type, ServiceLifetime>();
        foreach (var descriptor in services)
        {
            if (!descriptor.IsKeyedService)
            {
                lastLifetime[descriptor.ServiceType] = descriptor.Lifetime;
            }
        }

        var singletons = new HashSet<Type>();
        var otherLifetimes = new HashSet<Type>();
        foreach (var (type, lifetime) in lastLifetime)
        {
            (lifetime == ServiceLifetime.Singleton ? singletons : otherLifetimes).Add(type);
        }

        return new(root, singletons, otherLifetimes);
    }

    /// <summary>Resolves <paramref name="serviceType"/> from the root when it is a singleton; false when the attempt's scope must.</summary>
    public bool TryGetService(Type serviceType, out object? service)
    {
        if (_root is not null && IsSingleton(serviceType))
        {
            service = _root.GetService(serviceType);
            return true;
        }

        service = null;
        return false;
    }

    /// <summary>Whether the type's effective registration is a singleton; a closed registration wins over an open generic one.</summary>
    private bool IsSingleton(Type serviceType) =>
        _singletons.Contains(serviceType)
        || (serviceType.IsConstructedGenericType
            && !_otherLifetimes.Contains(serviceType)
            && _singletons.Contains(serviceType.GetGenericTypeDefinition()));
}
