namespace MessagingPatterns;

/// <summary>A message a load-leveling buffer dropped, with its body.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <param name="QueueName">The queue's name.</param>
/// <param name="MessageId">The dropped message's id.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Headers">Its headers.</param>
/// <param name="Body">Its body.</param>
/// <param name="Reason">Why it was dropped, starting with <c>dropped:</c>.</param>
/// <param name="DroppedAt">When it was dropped.</param>
public sealed record DroppedMessage<TMessage>(
    string QueueName,
    string MessageId,
    int Priority,
    IReadOnlyDictionary<string, string> Headers,
    TMessage Body,
    string Reason,
    DateTimeOffset DroppedAt) : DroppedMessage(QueueName, MessageId, Priority, Headers, Reason, DroppedAt);
