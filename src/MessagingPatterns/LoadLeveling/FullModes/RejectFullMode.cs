namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.Reject"/>: a publish that finds the buffer full fails at once.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class RejectFullMode<TMessage>(string queueName, int capacity, LoadLevelingTotals totals) : FullModePolicy<TMessage>
{
    /// <inheritdoc/>
    public override ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        totals.CountRejected();
        return ValueTask.FromException<FullModeOutcome>(
            new QueueFullException(queueName, capacity, $"the publish was rejected ({nameof(FullMode)}.{nameof(FullMode.Reject)})."));
    }
}
