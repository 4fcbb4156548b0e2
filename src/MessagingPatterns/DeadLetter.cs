namespace MessagingPatterns;

/// <summary>A message in a store's dead-letter store, with why it is there.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <param name="Message">The message, with its priority and headers.</param>
/// <param name="Reason">Why it was dead-lettered, e.g. the last exception's type and message.</param>
/// <param name="DeliveryCount">How many deliveries it had.</param>
/// <param name="DeadLetteredAt">When it was dead-lettered.</param>
public sealed record DeadLetter<TMessage>(
    Message<TMessage> Message,
    string Reason,
    int DeliveryCount,
    DateTimeOffset DeadLetteredAt);
