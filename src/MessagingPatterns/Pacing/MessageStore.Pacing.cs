using MessagingPatterns.Pacing;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

public static partial class MessageStore
{
    /// <summary>
    /// Wraps a store so consumers receive from it at a steady rate (<see cref="PacingOptions.MessagesPerSecond"/>, or a
    /// <see cref="PacingOptions.RateLimiter"/>), one permit per message, taken only once a message is there. Publishes
    /// and settles pass straight through. The decorator owns and disposes the store.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="inner">The store to pace; any store works.</param>
    /// <param name="options">The options; validated here and copied, so later changes have no effect.</param>
    /// <param name="timeProvider">The clock for pacing; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <returns>The paced store (durable if <paramref name="inner"/> is).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid (the message lists every problem).</exception>
    public static IMessageStore<TMessage> WithPacing<TMessage>(IMessageStore<TMessage> inner, PacingOptions options, TimeProvider? timeProvider = null) =>
        PacedStore<TMessage>.Create(inner, options, timeProvider ?? TimeProvider.System);
}
