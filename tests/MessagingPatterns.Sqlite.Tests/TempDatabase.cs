namespace MessagingPatterns.Sqlite.Tests;

/// <summary>A database file in the temp folder, deleted (with its WAL files) on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase() =>
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mp-sqlite-{Guid.NewGuid():N}.db");

    public string Path { get; }

    public SqliteStoreOptions Options(SqliteSynchronousMode synchronous = SqliteSynchronousMode.Full) =>
        new() { DatabasePath = Path, Synchronous = synchronous };

    public void Dispose()
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path + suffix);
        }
    }
}
