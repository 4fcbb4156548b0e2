namespace MessagingPatterns.Pacing;

/// <summary>The pacing decorator over a durable store, still recognisable as one (e.g. by a load-leveling buffer's checks).</summary>
internal sealed class DurablePacedStore<TMessage>(IMessageStore<TMessage> inner, PacingOptions options, TimeProvider timeProvider)
    : PacedStore<TMessage>(inner, options, timeProvider), IDurableMessageStore<TMessage>;
