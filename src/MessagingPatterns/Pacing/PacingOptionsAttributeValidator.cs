using Microsoft.Extensions.Options;

namespace MessagingPatterns.Pacing;

/// <summary>Checks the data-annotation rules of <see cref="PacingOptions"/>; part of <see cref="PacingOptionsValidator"/>.</summary>
[OptionsValidator]
internal sealed partial class PacingOptionsAttributeValidator : IValidateOptions<PacingOptions>
{
}
