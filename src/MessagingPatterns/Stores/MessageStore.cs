using MessagingPatterns.Stores;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

/// <summary>Creates the stores that ship with the core package.</summary>
public static partial class MessageStore
{
    /// <summary>
    /// Creates an in-memory FIFO store: the fast default for competing consumers in one process.
    /// Messages live as long as the process; use a durable store to survive a crash.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name, used in metrics and logs.</param>
    /// <param name="options">The options, or <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for leases and delays; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name (see <see cref="QueueNames"/>).</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public static IMessageStore<TMessage> CreateInMemory<TMessage>(
        string name, InMemoryQueueOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new InMemoryQueueOptions();
        OptionsCheck.ThrowIfInvalid(new InMemoryQueueOptionsValidator(), name, options);
        return new InMemoryQueueStore<TMessage>(name, options, timeProvider ?? TimeProvider.System);
    }
}
