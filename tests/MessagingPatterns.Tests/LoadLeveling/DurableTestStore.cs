using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>An in-memory store that claims durability, to test the configurations that require it.</summary>
internal sealed class DurableTestStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner), IDurableMessageStore<TMessage>;
