namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Redrives dead letters through a buffer's inner store and counts what came back: redriven messages take room (and
/// bytes) again, may exceed the capacity (they were accepted once already, as in the stores), and are not arrivals.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class DeadLetterRedrive<TMessage>(
    IMessageStore<TMessage> store, CapacityGate gate, MessageSizer<TMessage> sizer, LoadLevelingTotals totals, DurableDepthCounter<TMessage>? depthCounter)
{
    /// <summary>Redrives the dead letters that match <paramref name="filter"/>, by id, a page at a time.</summary>
    public async ValueTask<long> RedriveMatchingAsync(DeadLetterFilter filter, int batchSize, CancellationToken cancellationToken)
    {
        // By id, so the buffer counts exactly the messages that came back. An id is redriven once per call: one that
        // fails again and returns to the dead letters is left for a later call.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long redriven = 0;
        string? token = null;
        do
        {
            var page = await store.BrowseDeadLettersAsync(filter, batchSize, token, cancellationToken).ConfigureAwait(false);
            var ids = page.Items.Select(d => d.MessageId).Where(seen.Add).ToArray();
            if (ids.Length > 0)
            {
                redriven += await RedriveAsync(ids, cancellationToken).ConfigureAwait(false);
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return redriven;
    }

    /// <summary>Redrives the dead letters with the given ids.</summary>
    public async ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken)
    {
        // With a byte bound, the redriven messages' bytes count again.
        var (found, size) = await sizer.MeasureDeadLettersAsync(store, messageIds, cancellationToken).ConfigureAwait(false);
        var redriven = await store.RedriveAsync(messageIds, cancellationToken).ConfigureAwait(false);
        if (redriven > 0)
        {
            // If a concurrent redrive took some of them, count a share of the bytes: erring toward full is safe.
            gate.Readmit(redriven, found == 0 ? 0 : redriven >= found ? size : size * redriven / found);
            depthCounter?.Stored(redriven);
            totals.Redriven(redriven);
        }

        return redriven;
    }
}
