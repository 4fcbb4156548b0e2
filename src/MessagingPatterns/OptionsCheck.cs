using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Runs an options validator outside DI, so code that builds parts by hand validates as DI does.</summary>
internal static class OptionsCheck
{
    public static void ThrowIfInvalid<TOptions>(IValidateOptions<TOptions> validator, string? name, TOptions options)
        where TOptions : class
    {
        var result = validator.Validate(name, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(name ?? Options.DefaultName, typeof(TOptions), result.Failures);
        }
    }
}
