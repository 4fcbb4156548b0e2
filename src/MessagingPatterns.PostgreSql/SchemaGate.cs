using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>Creates the schema once, on first use; a failed attempt (server down) is tried again by the next caller.</summary>
internal sealed class SchemaGate(NpgsqlDataSource dataSource, string schema, bool create)
{
    private readonly Lock _lock = new();
    private Task? _created = create ? null : Task.CompletedTask;

    public Task EnsureAsync()
    {
        var created = Volatile.Read(ref _created);
        if (created is { IsCompletedSuccessfully: true })
        {
            return created;
        }

        lock (_lock)
        {
            if (_created is null || _created.IsFaulted || _created.IsCanceled)
            {
                // Not cancellable by one caller: others may be waiting on the same attempt.
                _created = PostgreSqlSchema.EnsureAsync(dataSource, schema, CancellationToken.None);
            }

            return _created;
        }
    }
}
