using Microsoft.Extensions.Options;

namespace MessagingPatterns.RabbitMQ;

/// <summary>Validates <see cref="RabbitMqStoreOptions"/>; used by DI at start and by <see cref="RabbitMqMessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class RabbitMqStoreOptionsValidator : IValidateOptions<RabbitMqStoreOptions>
{
}
