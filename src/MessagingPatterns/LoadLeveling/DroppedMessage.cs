namespace MessagingPatterns;

/// <summary>
/// A message a load-leveling buffer dropped because it was full and a drop <see cref="FullMode"/> was chosen. What the
/// callback receives is a <see cref="DroppedMessage{TMessage}"/>, with the typed body; see
/// <see cref="LoadLevelingOptions.OnDroppedMessage{TMessage}"/>.
/// </summary>
/// <param name="QueueName">The queue's name.</param>
/// <param name="MessageId">The dropped message's id.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Headers">Its headers.</param>
/// <param name="Reason">Why it was dropped, starting with <c>dropped:</c>.</param>
/// <param name="DroppedAt">When it was dropped.</param>
public abstract record DroppedMessage(
    string QueueName,
    string MessageId,
    int Priority,
    IReadOnlyDictionary<string, string> Headers,
    string Reason,
    DateTimeOffset DroppedAt);
