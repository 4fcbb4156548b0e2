namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.DropNewest"/>: a publish that finds the buffer full is not stored, and is reported.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class DropNewestFullMode<TMessage>(string queueName, int capacity, DropReporter<TMessage> reporter) : FullModePolicy<TMessage>
{
    /// <inheritdoc/>
    public override ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        reporter.Report(publish, $"dropped: queue '{queueName}' was full (capacity {capacity} messages) and {nameof(FullMode)} is {nameof(FullMode.DropNewest)}.");
        return ValueTask.FromResult(FullModeOutcome.Done);
    }
}
