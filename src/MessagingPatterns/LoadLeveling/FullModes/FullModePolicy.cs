namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>What a load-leveling buffer does with a publish that finds it full: one small type per policy.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal abstract class FullModePolicy<TMessage>
{
    /// <summary>
    /// Called under the capacity gate's lock before the buffer's room is looked at: whether the publish must skip the
    /// buffer even if it has room (spilling does, while older messages wait in the overflow store).
    /// </summary>
    public virtual bool TakesPublishFirst => false;

    /// <summary>Handles a publish that found the buffer full (or that <see cref="TakesPublishFirst"/> took).</summary>
    /// <exception cref="QueueFullException">The policy refuses the publish.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken);
}
