using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// How a pool registered by <c>AddConsumer</c> makes its handler for each attempt. When the handler's registration
/// is still the transient one <c>AddConsumer</c> made, the type has one public constructor and is not disposable,
/// the handler is constructed directly from the attempt's services: each dependency then comes from where the
/// container would take it (a singleton from the root, anything else from the attempt's scope), and an attempt
/// whose handler depends only on singletons needs no scope at all. Any other registration (a factory, another
/// lifetime, a disposable handler the scope must dispose) is resolved from the attempt's scope as registered.
/// </summary>
internal static class ConsumerActivation
{
    public static Func<IServiceProvider, IConsumer<TMessage>> For<TMessage, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TConsumer>(IServiceCollection services)
        where TConsumer : class, IConsumer<TMessage>
    {
        if (!IsPlainTransient<TConsumer>(services)
            || typeof(TConsumer).GetConstructors().Length != 1
            || typeof(IDisposable).IsAssignableFrom(typeof(TConsumer))
            || typeof(IAsyncDisposable).IsAssignableFrom(typeof(TConsumer)))
        {
            return static attempt => attempt.GetRequiredService<TConsumer>();
        }

        var create = ActivatorUtilities.CreateFactory<TConsumer>(Type.EmptyTypes);
        return attempt => create(attempt, null);
    }

    private static bool IsPlainTransient<TConsumer>(IServiceCollection services)
    {
        ServiceDescriptor? effective = null;
        foreach (var descriptor in services)
        {
            if (!descriptor.IsKeyedService && descriptor.ServiceType == typeof(TConsumer))
            {
                effective = descriptor;
            }
        }

        return effective is { Lifetime: ServiceLifetime.Transient } && effective.ImplementationType == typeof(TConsumer);
    }
}
