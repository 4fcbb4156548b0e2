using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.StoreAuthoring;

/// <summary>
/// Options plumbing for store and feature packages. It lives in its own namespace so an application's
/// <see cref="IServiceCollection"/> IntelliSense shows only the <c>Add…Queue</c> methods.
/// </summary>
public static class StoreOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Registers named options validated at start by <typeparamref name="TValidator"/>: the one way every
    /// store and feature registers its options, for store packages too.
    /// </summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <typeparam name="TValidator">The validator, also used by the non-DI factory of the same feature.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The options' name, usually the queue's name.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The options builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(
        this IServiceCollection services, string name, Action<TOptions>? configure)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return options.ValidateOnStart();
    }
}
