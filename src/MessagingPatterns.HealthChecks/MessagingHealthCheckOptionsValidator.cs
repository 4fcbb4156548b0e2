using Microsoft.Extensions.Options;

namespace MessagingPatterns.HealthChecks;

/// <summary>Validates <see cref="MessagingHealthCheckOptions"/> with one result naming every invalid option.</summary>
internal sealed class MessagingHealthCheckOptionsValidator : IValidateOptions<MessagingHealthCheckOptions>
{
    public ValidateOptionsResult Validate(string? name, MessagingHealthCheckOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.ReadyThreshold is < 0)
        {
            failures.Add($"{nameof(MessagingHealthCheckOptions.ReadyThreshold)} must be zero or more (or null for none); it is {options.ReadyThreshold}.");
        }

        if (options.OldestReadyAgeThreshold is { } age && age <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(MessagingHealthCheckOptions.OldestReadyAgeThreshold)} must be positive (or null for none); it is {age}.");
        }

        if (options.StoreTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(MessagingHealthCheckOptions.StoreTimeout)} must be positive; it is {options.StoreTimeout}.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
