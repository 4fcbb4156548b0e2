using MessagingPatterns.Sqlite;

namespace MessagingPatterns.Benchmarks.Sqlite;

/// <summary>Creates the stores the SQLite benchmarks compare, each on a fresh database file in the temp folder.</summary>
internal static class BenchStores
{
    public static (IMessageStore<BenchMessage> Store, string? Path) Create(BenchStoreKind kind, int maxOperationsPerTransaction = 512)
    {
        if (kind == BenchStoreKind.InMemory)
        {
            return (MessageStore.CreateInMemory<BenchMessage>("bench"), null);
        }

        var path = Path.Combine(Path.GetTempPath(), $"mp-bench-{Guid.NewGuid():N}.db");
        var options = new SqliteStoreOptions
        {
            DatabasePath = path,
            Synchronous = kind == BenchStoreKind.SqliteFull ? SqliteSynchronousMode.Full : SqliteSynchronousMode.Normal,
            MaxOperationsPerTransaction = maxOperationsPerTransaction,
        };
        return (SqliteMessageStore.Create<BenchMessage>("bench", options), path);
    }

    public static async Task DisposeAsync(IMessageStore<BenchMessage> store, string? path)
    {
        await store.DisposeAsync();
        if (path is not null)
        {
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(path + suffix);
            }
        }
    }

    public static Message<BenchMessage>[][] Batches(int total, int batchSize) =>
        Enumerable.Range(0, total / batchSize)
            .Select(b => Enumerable.Range(b * batchSize, batchSize).Select(n => new Message<BenchMessage>(new BenchMessage(n, "payload"))).ToArray())
            .ToArray();
}
