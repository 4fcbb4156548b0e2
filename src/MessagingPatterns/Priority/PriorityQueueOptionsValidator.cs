using Microsoft.Extensions.Options;

namespace MessagingPatterns.Priority;

/// <summary>Validates <see cref="PriorityQueueOptions"/>; used by DI at start and by <see cref="MessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class PriorityQueueOptionsValidator : IValidateOptions<PriorityQueueOptions>
{
}
