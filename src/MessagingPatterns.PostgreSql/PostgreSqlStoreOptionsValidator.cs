using Microsoft.Extensions.Options;

namespace MessagingPatterns.PostgreSql;

/// <summary>Validates <see cref="PostgreSqlStoreOptions"/>; used by DI at start and by <see cref="PostgreSqlMessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class PostgreSqlStoreOptionsValidator : IValidateOptions<PostgreSqlStoreOptions>
{
}
