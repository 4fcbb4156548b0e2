using RabbitMQ.Client;

namespace MessagingPatterns.RabbitMQ;

/// <summary>A message the broker delivered to this store, not yet acknowledged: where it came from and what it holds.</summary>
/// <param name="Message">The typed message handed to receivers.</param>
/// <param name="Stored">The raw message, for publishing it again.</param>
/// <param name="Channel">The channel it arrived on: only that channel can acknowledge it.</param>
/// <param name="Tag">The delivery tag on <paramref name="Channel"/>.</param>
/// <param name="Generation">The consumer channel's generation when it arrived; a later generation means the broker took it back.</param>
internal sealed record Inbound<TMessage>(Message<TMessage> Message, StoredMessage Stored, IChannel Channel, ulong Tag, long Generation);
