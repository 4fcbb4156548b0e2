namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>
/// <see cref="FullMode.Wait"/>: a publish that finds the buffer full waits for room, in arrival order, as long as the
/// caller's token and the optional publish timeout allow.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class WaitFullMode<TMessage>(CapacityGate gate, string queueName, TimeSpan? publishTimeout, TimeProvider timeProvider, LoadLevelingTotals totals)
    : FullModePolicy<TMessage>
{
    /// <inheritdoc/>
    public override async ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        if (publishTimeout is not { } limit)
        {
            await gate.WaitForRoomAsync(publish.Count, publish.Size, cancellationToken).ConfigureAwait(false);
            return FullModeOutcome.Reserved;
        }

        using var timeout = new CancellationTokenSource(limit, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await gate.WaitForRoomAsync(publish.Count, publish.Size, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            totals.CountRejected();
            throw new QueueFullException(
                queueName, gate.Capacity, $"it was still full after the publish waited {limit} ({nameof(LoadLevelingOptions.PublishTimeout)}).", new TimeoutException());
        }
        catch (OperationCanceledException)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return FullModeOutcome.Reserved;
    }
}
