namespace MessagingPatterns;

/// <summary>
/// A store decorated with a load-leveling buffer: bounded capacity with a full-mode, consumption paced by a rate
/// limiter, optional overflow to another store, and a snapshot of its depth and rates.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public interface ILoadLevelingStore<TMessage> : IMessageStore<TMessage>
{
    /// <summary>Reads the buffer's depth, rates and counts, for samples and health checks. Cheap; safe to call at any time.</summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    LoadLevelingSnapshot GetSnapshot();
}
