using Microsoft.Extensions.Options;

namespace MessagingPatterns.Priority;

/// <summary>Validates <see cref="MultiQueueOptions"/> (its attributes and its per-level lists); used by DI at start and by <see cref="MessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class MultiQueueOptionsValidator : IValidateOptions<MultiQueueOptions>
{
}
