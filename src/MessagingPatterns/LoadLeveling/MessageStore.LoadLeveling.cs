using MessagingPatterns.LoadLeveling;
using Microsoft.Extensions.Options;

namespace MessagingPatterns;

public static partial class MessageStore
{
    /// <summary>
    /// Wraps a store in a load-leveling buffer: producers may burst, the buffer bounds what the store holds and applies
    /// <see cref="LoadLevelingOptions.FullMode"/> (or spills to <paramref name="overflowStore"/>) when full, and
    /// consumers receive at the pace <see cref="LoadLevelingOptions.MessagesPerSecond"/> (or
    /// <see cref="LoadLevelingOptions.RateLimiter"/>) sets. The buffer owns and disposes both stores.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="inner">The store to level the load on; any store works.</param>
    /// <param name="options">The options; validated here and copied, so later changes have no effect.</param>
    /// <param name="timeProvider">The clock for pacing, waits and rates; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="overflowStore">
    /// Where publishes go while the buffer is full, instead of waiting, failing or dropping; they move back into the
    /// buffer in order as room frees. Use a durable store, dedicated to this buffer. <see langword="null"/> for none.
    /// </param>
    /// <returns>The buffer, which also gives a <see cref="ILoadLevelingStore{TMessage}.GetSnapshot">snapshot</see> of its depth and rates.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="overflowStore"/> is <paramref name="inner"/>.</exception>
    /// <exception cref="OptionsValidationException">
    /// The options are invalid, or <see cref="LoadLevelingOptions.RequireNoDataLoss"/> is set and the configuration can
    /// lose messages (the message says why).
    /// </exception>
    public static ILoadLevelingStore<TMessage> WithLoadLeveling<TMessage>(
        IMessageStore<TMessage> inner,
        LoadLevelingOptions options,
        TimeProvider? timeProvider = null,
        IMessageStore<TMessage>? overflowStore = null) =>
        new LoadLevelingStore<TMessage>(inner, options, overflowStore, timeProvider ?? TimeProvider.System);
}
