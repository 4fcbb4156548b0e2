using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Pacing;

/// <summary>
/// Validates <see cref="PacingOptions"/> with one result listing every problem. Used by DI at start and by
/// <c>MessageStore.WithPacing</c>; the rate rules are shared with the load-leveling options' shortcut.
/// </summary>
internal sealed class PacingOptionsValidator : IValidateOptions<PacingOptions>
{
    /// <summary>The highest rate accepted, in messages per second.</summary>
    public const double MaxMessagesPerSecond = 1e9;

    private readonly PacingOptionsAttributeValidator _attributes = new();

    public ValidateOptionsResult Validate(string? name, PacingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var attributes = _attributes.Validate(name, options);
        if (attributes.Failed)
        {
            failures.AddRange(attributes.Failures);
        }

        CheckRate(options.MessagesPerSecond, options.RateLimiter, failures);
        if (options.MessagesPerSecond is null && options.RateLimiter is null)
        {
            failures.Add($"Set {nameof(PacingOptions.MessagesPerSecond)} or {nameof(PacingOptions.RateLimiter)}: pacing needs a rate.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }

    /// <summary>The rules on a rate and a limiter, wherever they are set.</summary>
    public static void CheckRate(double? messagesPerSecond, RateLimiter? limiter, List<string> failures)
    {
        if (messagesPerSecond is { } rate && !(rate > 0 && rate <= MaxMessagesPerSecond))
        {
            failures.Add($"{nameof(PacingOptions.MessagesPerSecond)} must be greater than 0 and at most {MaxMessagesPerSecond:G} (or null for no pacing); it is {rate}.");
        }

        if (messagesPerSecond is not null && limiter is not null)
        {
            failures.Add($"Set either {nameof(PacingOptions.MessagesPerSecond)} or {nameof(PacingOptions.RateLimiter)}, not both: both pace consumers.");
        }
    }
}
