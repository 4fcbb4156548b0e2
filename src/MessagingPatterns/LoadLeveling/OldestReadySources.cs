using MessagingPatterns.StoreAuthoring;
using MessagingPatterns.Stores;

namespace MessagingPatterns.LoadLeveling;

/// <summary>Finds how a store offers the message <see cref="FullMode.DropOldest"/> drops, if it can.</summary>
internal static class OldestReadySources
{
    /// <summary>The store's own capability, or an adapter over an in-memory store; <see langword="null"/> if it cannot.</summary>
    public static IOldestReadySource<TMessage>? For<TMessage>(IMessageStore<TMessage> store) => store switch
    {
        IOldestReadySource<TMessage> source => source,
        IPriorityMessageStore<TMessage> priority => new LowestLevelFirst<TMessage>(priority),
        InMemoryQueueStore<TMessage> fifo => new InMemoryReceive<TMessage>(fifo),
        _ => null,
    };

    /// <summary>
    /// A receive that takes what is ready now. In-memory stores lease a ready message synchronously, so a receive that
    /// did not complete at once found nothing ready; cancelling it leases nothing (or still returns what it leased).
    /// </summary>
    private static async ValueTask<Delivery<TMessage>?> ReceiveReadyAsync<TMessage>(IMessageStore<TMessage> store, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var buffer = new Delivery<TMessage>[1];
        using var noWait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receive = store.ReceiveAsync(buffer, leaseDuration, noWait.Token);
        if (!receive.IsCompleted)
        {
            await noWait.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            return await receive.ConfigureAwait(false) > 0 ? buffer[0] : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The in-memory FIFO store: it delivers its oldest ready message first.</summary>
    private sealed class InMemoryReceive<TMessage>(IMessageStore<TMessage> store) : IOldestReadySource<TMessage>
    {
        public ValueTask<Delivery<TMessage>?> TryLeaseOldestOfLowestPriorityAsync(TimeSpan leaseDuration, CancellationToken cancellationToken = default) =>
            ReceiveReadyAsync(store, leaseDuration, cancellationToken);
    }

    /// <summary>The in-memory priority stores: the lowest level with a ready message, through its level view.</summary>
    private sealed class LowestLevelFirst<TMessage>(IPriorityMessageStore<TMessage> store) : IOldestReadySource<TMessage>
    {
        public async ValueTask<Delivery<TMessage>?> TryLeaseOldestOfLowestPriorityAsync(TimeSpan leaseDuration, CancellationToken cancellationToken = default)
        {
            for (var level = 0; level < store.Levels; level++)
            {
                if (store.GetReadyCount(level) > 0 &&
                    await ReceiveReadyAsync(store.ForLevel(level), leaseDuration, cancellationToken).ConfigureAwait(false) is { } delivery)
                {
                    return delivery;
                }
            }

            return null;
        }
    }
}
