using Microsoft.Extensions.Options;

namespace MessagingPatterns.Sqlite;

/// <summary>Validates <see cref="SqliteStoreOptions"/>; used by DI at start and by <see cref="SqliteMessageStore"/>.</summary>
[OptionsValidator]
internal sealed partial class SqliteStoreOptionsValidator : IValidateOptions<SqliteStoreOptions>
{
}
