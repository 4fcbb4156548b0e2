namespace MessagingPatterns;

/// <summary>How hard SQLite flushes a commit to disk (its <c>PRAGMA synchronous</c> setting, in WAL mode).</summary>
public enum SqliteSynchronousMode
{
    /// <summary>
    /// Every commit is flushed to the storage device before a publish returns: survives a process crash,
    /// an OS crash and power loss (on storage that honours flushes). The default.
    /// </summary>
    Full = 0,

    /// <summary>
    /// Commits are flushed at WAL checkpoints only: survives a process crash, but may lose the last
    /// commits on an OS crash or power loss. Faster for single, unbatched publishes.
    /// </summary>
    Normal = 1,
}
