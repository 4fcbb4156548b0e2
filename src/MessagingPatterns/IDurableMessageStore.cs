namespace MessagingPatterns;

/// <summary>
/// Marks a store whose accepted messages survive the process being killed (committed to disk or confirmed
/// by a broker). Configurations that require durability check for it at start.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public interface IDurableMessageStore<TMessage> : IMessageStore<TMessage>
{
}
