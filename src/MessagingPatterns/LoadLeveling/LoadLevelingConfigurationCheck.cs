using Microsoft.Extensions.Options;

namespace MessagingPatterns.LoadLeveling;

/// <summary>The checks a load-leveling buffer makes before it is built: arguments, options, and what the configuration can lose.</summary>
internal static class LoadLevelingConfigurationCheck
{
    /// <summary>Throws if the buffer must not be built from these parts.</summary>
    /// <exception cref="ArgumentNullException">A required argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The overflow store is the inner store, or the drop callback is for another body type.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid, or they require no data loss and the configuration can lose messages.</exception>
    public static void ThrowIfInvalid<TMessage>(IMessageStore<TMessage> inner, LoadLevelingOptions options, IMessageStore<TMessage>? overflow, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (ReferenceEquals(inner, overflow))
        {
            throw new ArgumentException("The overflow store must be a different store from the one it overflows.", nameof(overflow));
        }

        OptionsCheck.ThrowIfInvalid(new LoadLevelingOptionsValidator(), inner.Name, options);
        if (LoadLevelingOptionsValidator.CheckDurability(options, inner, overflow) is { } durability)
        {
            throw new OptionsValidationException(inner.Name, typeof(LoadLevelingOptions), [durability]);
        }

        if (options.DroppedBodyType is { } bodyType && bodyType != typeof(TMessage))
        {
            throw new ArgumentException(
                $"{nameof(LoadLevelingOptions.OnDroppedMessage)} was set for {bodyType.Name} bodies, but queue '{inner.Name}' holds {typeof(TMessage).Name}.", nameof(options));
        }
    }
}
