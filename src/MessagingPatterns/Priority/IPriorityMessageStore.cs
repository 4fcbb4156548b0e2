namespace MessagingPatterns;

/// <summary>
/// A store that keeps messages by priority level and can hand out a view that receives one level only,
/// so each level can have its own consumer pool (e.g. 8 workers for premium, 2 for free).
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public interface IPriorityMessageStore<TMessage> : IMessageStore<TMessage>
{
    /// <summary>How many levels the store holds: priorities 0 to <c>Levels - 1</c>.</summary>
    int Levels { get; }

    /// <summary>
    /// A view of this store that receives only messages of <paramref name="level"/>. Every other member
    /// (publish, settle, dead letters, statistics) acts on the whole store. Disposing the view does not
    /// dispose this store. The same view is returned for the same level.
    /// </summary>
    /// <param name="level">The priority level, 0 to <see cref="Levels"/> - 1.</param>
    /// <returns>The view.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="level"/> is outside the store's levels.</exception>
    IMessageStore<TMessage> ForLevel(int level);

    /// <summary>How many messages of <paramref name="level"/> are ready (not leased, not delayed).</summary>
    /// <param name="level">The priority level, 0 to <see cref="Levels"/> - 1.</param>
    /// <returns>The count, read without waiting for the store's lock (it may lag concurrent calls).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="level"/> is outside the store's levels.</exception>
    int GetReadyCount(int level);
}
