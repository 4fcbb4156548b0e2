namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>Reports a dropped message to the user's callback, the snapshot's totals and the dropped metric.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class DropReporter<TMessage>(string queueName, Action<DroppedMessage> onDropped, TimeProvider timeProvider, LoadLevelingTotals totals)
{
    /// <summary>Reports one message; a callback that throws leaves it unreported (and not dropped).</summary>
    public void Report(Message<TMessage> message, string reason)
    {
        onDropped(new DroppedMessage<TMessage>(queueName, message.Id, message.Priority, message.Headers, message.Body, reason, timeProvider.GetUtcNow()));
        totals.CountDropped();
    }

    /// <summary>Reports every message of a publish.</summary>
    public void Report(PendingPublish<TMessage> publish, string reason)
    {
        foreach (var message in publish.Messages)
        {
            Report(message, reason);
        }
    }
}
