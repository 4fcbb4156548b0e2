namespace MessagingPatterns.Benchmarks.Sqlite;

/// <summary>The stores compared in one run.</summary>
public enum BenchStoreKind
{
    /// <summary>The in-memory FIFO store: the baseline.</summary>
    InMemory,

    /// <summary>SQLite with <c>synchronous=FULL</c> (the default): every commit flushed.</summary>
    SqliteFull,

    /// <summary>SQLite with <c>synchronous=NORMAL</c>: flushed at checkpoints only.</summary>
    SqliteNormal,
}
