namespace MessagingPatterns.LoadLeveling;

/// <summary>A message a load-leveling buffer dropped because it was full and a drop <see cref="FullMode"/> was chosen.</summary>
/// <param name="QueueName">The queue's name.</param>
/// <param name="MessageId">The dropped message's id.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Headers">Its headers.</param>
/// <param name="Body">Its body (cast it to the queue's message type).</param>
/// <param name="Reason">Why it was dropped, starting with <c>dropped:</c>.</param>
/// <param name="DroppedAt">When it was dropped.</param>
public sealed record DroppedMessage(
    string QueueName,
    string MessageId,
    int Priority,
    IReadOnlyDictionary<string, string> Headers,
    object Body,
    string Reason,
    DateTimeOffset DroppedAt);
