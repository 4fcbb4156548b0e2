namespace MessagingPatterns;

/// <summary>Where a <see cref="ConsumerWorkerPool{TMessage}"/> is in its life; health checks report it.</summary>
public enum ConsumerPoolState
{
    /// <summary>Created; <see cref="ConsumerWorkerPool{TMessage}.StartAsync"/> has not been called.</summary>
    NotStarted,

    /// <summary>Every worker is receiving or handling messages.</summary>
    Running,

    /// <summary><see cref="ConsumerWorkerPool{TMessage}.StopAsync"/> was called: the pool no longer consumes.</summary>
    Stopped,

    /// <summary>
    /// Workers ended without a stop (their store was disposed under them): the pool consumes with fewer workers
    /// than configured, or none, and will not recover by itself.
    /// </summary>
    Faulted,
}
