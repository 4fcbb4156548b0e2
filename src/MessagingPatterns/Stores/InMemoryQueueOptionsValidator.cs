using Microsoft.Extensions.Options;

namespace MessagingPatterns.Stores;

/// <summary>Validates <see cref="InMemoryQueueOptions"/>; used by DI at start and by <see cref="MessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class InMemoryQueueOptionsValidator : IValidateOptions<InMemoryQueueOptions>
{
}
