using MessagingPatterns.Priority;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Creates the stores that ship with the core package.</summary>
public static partial class MessageStore
{
    /// <summary>
    /// Creates an in-memory priority store (one queue that reorders): higher <see cref="Message{TMessage}.Priority"/>
    /// first, FIFO within a priority, optional aging so low priorities are not starved.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name, used in metrics and logs.</param>
    /// <param name="options">The options, or <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for leases, delays and aging; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <returns>The store; <see cref="IPriorityMessageStore{TMessage}.ForLevel"/> gives per-level views for dedicated consumer pools.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name (see <see cref="QueueNames"/>).</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public static IPriorityMessageStore<TMessage> CreatePriority<TMessage>(
        string name, PriorityQueueOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new PriorityQueueOptions();
        OptionsCheck.ThrowIfInvalid(new PriorityQueueOptionsValidator(), name, options);
        return new PriorityQueueStore<TMessage>(name, options, timeProvider ?? TimeProvider.System);
    }

    /// <summary>
    /// Creates an in-memory multi-queue store (one FIFO queue per priority level) with strict, weighted or
    /// deadline scheduling across the levels (see <see cref="LevelScheduling"/>).
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name, used in metrics and logs.</param>
    /// <param name="options">The options, or <see langword="null"/> for the defaults (3 levels, strict).</param>
    /// <param name="timeProvider">The clock for leases, delays and deadlines; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <returns>The store; <see cref="IPriorityMessageStore{TMessage}.ForLevel"/> gives per-level views for dedicated consumer pools.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name (see <see cref="QueueNames"/>).</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public static IPriorityMessageStore<TMessage> CreateMultiQueue<TMessage>(
        string name, MultiQueueOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new MultiQueueOptions();
        OptionsCheck.ThrowIfInvalid(new MultiQueueOptionsValidator(), name, options);
        return new MultiQueueStore<TMessage>(name, options, timeProvider ?? TimeProvider.System);
    }
}
