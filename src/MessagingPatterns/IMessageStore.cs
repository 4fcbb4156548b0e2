using System.Runtime.ExceptionServices;

namespace MessagingPatterns;

/// <summary>
/// The shared store between producers and consumers: accepts messages, leases them to consumers, and
/// removes a message only on an ack from the current lease holder or a move to the dead-letter store.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// <para>
/// Contract every implementation keeps (and the conformance suite checks): an enqueue that completed
/// means the message is accepted and will be delivered at least once or dead-lettered; a received
/// message is invisible to other receivers until its lease ends; the delivery count rises with every
/// lease, before the handler runs; a settle call with a token whose lease has ended returns
/// <see langword="false"/> and changes nothing.
/// </para>
/// <para>All members are safe to call concurrently. After disposal they throw <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
public interface IMessageStore<TMessage> : IAsyncDisposable
{
    /// <summary>The queue's name, used in metrics and logs.</summary>
    string Name { get; }

    /// <summary>
    /// The messaging system this store runs on, as telemetry reports it in the <c>messaging.system</c> attribute
    /// (<c>memory</c>, <c>sqlite</c>, <c>postgresql</c>, <c>rabbitmq</c> for the built-in stores). A decorator
    /// reports the system of the store it decorates. Default: <c>messagingpatterns</c>.
    /// </summary>
    string MessagingSystem => "messagingpatterns";

    /// <summary>Accepts one message. Completes once the store has accepted it (for durable stores: committed).</summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a bounded store; a token already cancelled stores nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The message's priority is outside the store's levels.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the message was accepted.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default);

    /// <summary>Accepts several messages, all or none.</summary>
    /// <param name="messages">The messages; none may be <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a bounded store; a token already cancelled stores nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The batch can never fit in a bounded store.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the messages were accepted.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Leases up to <c>buffer.Length</c> ready messages, waiting (without polling) until at least one is ready.
    /// </summary>
    /// <param name="buffer">Where the deliveries are written; its length is the most messages received.</param>
    /// <param name="leaseDuration">How long the messages stay invisible to other receivers unless renewed.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled receive leases nothing.</param>
    /// <returns>The number of deliveries written, at least 1.</returns>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="leaseDuration"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before any message was leased.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default);

    /// <summary>Acknowledges a handled message: it is removed for good.</summary>
    /// <param name="lease">The lease's token.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if removed; <see langword="false"/> if the lease had ended (nothing changed).</returns>
    ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acknowledges several handled messages in one call: each is removed for good if its lease is still held, as
    /// <see cref="AckAsync(LeaseToken, CancellationToken)"/> would do for it alone. A store that can remove them in
    /// one statement or round trip does so. By default every ack is started before any is awaited, so a store that
    /// commits settles in groups commits the batch together; if some fail, the others still finish, then the first
    /// failure (in the order given) is thrown.
    /// </summary>
    /// <param name="leases">The leases' tokens; a lease that appears twice is acked once (the second answers <see langword="false"/>).</param>
    /// <param name="cancellationToken">
    /// Cancels the call; a token already cancelled acks nothing. Once the acks were sent, some may have been made
    /// (an ack is never undone), and a message whose ack did not happen is delivered again when its lease ends.
    /// </param>
    /// <returns>
    /// One result per lease, in the order given: <see langword="true"/> if removed; <see langword="false"/> if the
    /// lease had ended (nothing changed for it).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="leases"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the acks were known to be made.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    /// <remarks>
    /// When an exception is thrown, some acks may have been made; a message whose ack did not happen is delivered
    /// again when its lease ends, so nothing is lost.
    /// </remarks>
    async ValueTask<IReadOnlyList<bool>> AckBatchAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leases);
        cancellationToken.ThrowIfCancellationRequested();
        var acked = new bool[leases.Count];
        var pending = new Task<bool>?[leases.Count];
        var started = 0;
        ExceptionDispatchInfo? refused = null;
        try
        {
            for (; started < acked.Length; started++)
            {
                var ack = AckAsync(leases[started], cancellationToken);
                if (ack.IsCompletedSuccessfully)
                {
                    acked[started] = ack.Result;
                }
                else
                {
                    pending[started] = ack.AsTask();
                }
            }
        }
        catch (Exception ex)
        {
            // The store refused one at once (disposed, for example): those already started still finish.
            refused = ExceptionDispatchInfo.Capture(ex);
        }

        ExceptionDispatchInfo? failure = null;
        for (var i = 0; i < started; i++)
        {
            try
            {
                if (pending[i] is { } ack)
                {
                    acked[i] = await ack.ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                failure ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        (failure ?? refused)?.Throw();
        return acked;
    }

    /// <summary>Ends a lease without handling the message: it becomes ready again, now or after <paramref name="delay"/>.</summary>
    /// <param name="lease">The lease's token.</param>
    /// <param name="delay">How long to keep the message invisible first; <see cref="TimeSpan.Zero"/> for at once.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if released; <see langword="false"/> if the lease had ended (nothing changed).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default);

    /// <summary>Extends a lease to <paramref name="leaseDuration"/> from now.</summary>
    /// <param name="lease">The lease's token.</param>
    /// <param name="leaseDuration">The new lease length, counted from now.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if renewed; <see langword="false"/> if the lease had ended.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="leaseDuration"/> is not positive.</exception>
    ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default);

    /// <summary>Moves a leased message to the dead-letter store, with the reason.</summary>
    /// <param name="lease">The lease's token.</param>
    /// <param name="reason">Why, e.g. the exception's type and message.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if moved; <see langword="false"/> if the lease had ended (nothing changed).</returns>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is null or empty.</exception>
    ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists the dead letters that match <paramref name="filter"/>, oldest dead-lettered first, one page at a time.
    /// </summary>
    /// <param name="filter">Which dead letters; <see cref="DeadLetterFilter.All"/> for every one.</param>
    /// <param name="pageSize">The most entries on the page.</param>
    /// <param name="continuationToken">The previous page's <see cref="DeadLetterPage{TMessage}.ContinuationToken"/>; <see langword="null"/> for the first page.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page; its token is <see langword="null"/> when no more entries follow.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageSize"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="continuationToken"/> was not issued by this kind of store.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes for good the dead letters that match <paramref name="filter"/>.</summary>
    /// <param name="filter">Which dead letters, e.g. selected ids through <see cref="DeadLetterFilter.MessageIds"/>.</param>
    /// <param name="cancellationToken">Cancels the call; entries already deleted stay deleted.</param>
    /// <returns>How many entries were deleted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves the dead letters that match <paramref name="filter"/> back to the queue, with their priority and
    /// headers and a fresh delivery count, <paramref name="batchSize"/> at a time. Each message moves in one
    /// step, so it is never in both places nor in neither; entries dead-lettered after the call began are
    /// left for a later call (a message that fails again is not redriven twice). Repeating a redrive is harmless.
    /// </summary>
    /// <param name="filter">Which dead letters; <see cref="DeadLetterFilter.All"/> for every one.</param>
    /// <param name="batchSize">The most entries moved in one step (one lock hold or one transaction).</param>
    /// <param name="cancellationToken">Cancels the call between batches; batches already moved stay moved.</param>
    /// <returns>How many messages were moved back.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default);

    /// <summary>Lists dead-lettered messages, oldest first (the first page of <see cref="BrowseDeadLettersAsync"/> with no filter).</summary>
    /// <param name="maxCount">The most entries returned.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Up to <paramref name="maxCount"/> entries.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    async ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        var items = new List<DeadLetter<TMessage>>();
        string? token = null;
        do
        {
            // A page may hold fewer entries than asked for, so keep going until full or done.
            var page = await BrowseDeadLettersAsync(DeadLetterFilter.All, maxCount - items.Count, token, cancellationToken).ConfigureAwait(false);
            items.AddRange(page.Items);
            token = page.ContinuationToken;
        }
        while (token is not null && items.Count < maxCount);
        return items;
    }

    /// <summary>
    /// Moves the named dead-lettered messages back to the queue with their priority and headers and a
    /// fresh delivery count (<see cref="RedriveDeadLettersAsync"/> with <see cref="DeadLetterFilter.MessageIds"/>).
    /// Ids not in the dead-letter store are skipped, so a redrive may be repeated.
    /// </summary>
    /// <param name="messageIds">The ids of the messages to redrive.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many messages were moved back.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="messageIds"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    async ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (messageIds.Count == 0)
        {
            return 0;
        }

        var filter = new DeadLetterFilter { MessageIds = messageIds };
        return (int)await RedriveDeadLettersAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts ready, delayed, in-flight and dead-lettered messages.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default);
}
