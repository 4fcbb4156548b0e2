using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>
/// <see cref="FullMode.DropOldest"/>: a publish that finds the buffer full makes room by dropping the oldest ready
/// message of the lowest priority level (reported first), then tries again; if every message is in flight, the
/// incoming one is dropped instead.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class DropOldestFullMode<TMessage> : FullModePolicy<TMessage>
{
    private readonly IMessageStore<TMessage> _store;
    private readonly IOldestReadySource<TMessage> _oldest;
    private readonly int _capacity;
    private readonly DropReporter<TMessage> _reporter;
    private readonly IDroppedMessageRemover<TMessage> _remover;

    /// <summary>Creates the policy over <paramref name="store"/>, which must be able to hand over its oldest ready message.</summary>
    /// <exception cref="OptionsValidationException">The store cannot offer that message without waiting.</exception>
    public DropOldestFullMode(IMessageStore<TMessage> store, int capacity, DropReporter<TMessage> reporter, IDroppedMessageRemover<TMessage> remover)
    {
        _oldest = OldestReadySources.For(store) ?? throw new OptionsValidationException(
            store.Name,
            typeof(LoadLevelingOptions),
            [
                $"{nameof(LoadLevelingOptions.FullMode)} {nameof(FullMode.DropOldest)} drops the oldest ready message of the lowest priority level, but the store of queue " +
                $"'{store.Name}' ({store.GetType().Name}) cannot hand that message over without waiting (it is not an {nameof(IOldestReadySource<TMessage>)}<T> nor an in-memory store). " +
                $"Use {nameof(FullMode.DropNewest)}, {nameof(FullMode.Wait)} or {nameof(FullMode.Reject)}, or a store that offers it.",
            ]);
        _store = store;
        _capacity = capacity;
        _reporter = reporter;
        _remover = remover;
    }

    /// <inheritdoc/>
    public override async ValueTask<FullModeOutcome> HandleAsync(PendingPublish<TMessage> publish, CancellationToken cancellationToken)
    {
        // Another publish may take the room this makes first: the buffer then comes back here.
        if (await _oldest.TryLeaseOldestOfLowestPriorityAsync(LoadLevelingDefaults.InternalLease, CancellationToken.None).ConfigureAwait(false) is not { } delivery)
        {
            _reporter.Report(
                publish,
                $"dropped: queue '{_store.Name}' was full (capacity {_capacity} messages), {nameof(FullMode)} is {nameof(FullMode.DropOldest)}, and every message it held was in flight.");
            return FullModeOutcome.Done;
        }

        try
        {
            _reporter.Report(
                delivery.Message,
                $"dropped: queue '{_store.Name}' was full (capacity {_capacity} messages) and {nameof(FullMode)} is {nameof(FullMode.DropOldest)}; this was its oldest message.");
        }
        catch
        {
            // The callback failed: the message is not dropped, it goes back as it was.
            await _store.ReleaseAsync(delivery.Lease, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await _remover.RemoveDroppedAsync(delivery).ConfigureAwait(false);
        return FullModeOutcome.TryAgain;
    }
}
