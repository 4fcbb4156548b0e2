using Microsoft.Extensions.Options;

namespace MessagingPatterns.LoadLeveling;

/// <summary>Checks the data-annotation rules of <see cref="LoadLevelingOptions"/>; part of <see cref="LoadLevelingOptionsValidator"/>.</summary>
[OptionsValidator]
internal sealed partial class LoadLevelingOptionsAttributeValidator : IValidateOptions<LoadLevelingOptions>
{
}
