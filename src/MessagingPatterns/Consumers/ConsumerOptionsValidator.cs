using Microsoft.Extensions.Options;

namespace MessagingPatterns.Consumers;

/// <summary>Validates <see cref="ConsumerOptions"/>; used by DI at start and by <see cref="ConsumerWorkerPool{TMessage}"/>.</summary>
[OptionsValidator]
internal sealed partial class ConsumerOptionsValidator : IValidateOptions<ConsumerOptions>
{
}
