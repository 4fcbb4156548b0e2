using System.Buffers;
using System.Collections.Concurrent;
using MessagingPatterns.Serialization;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// The RabbitMQ store: publishes confirmed, persistent messages to a durable priority queue, consumes
/// with manual acks and a prefetch, and keeps the contract's leases on the client.
/// </summary>
/// <remarks>
/// <para>
/// Delivery counts: classic queues count nothing, so the store writes how many leases a message had into
/// a header whenever it returns the message to the queue (release, delay, lease expiry): it publishes a
/// copy with the new count, waits for the confirm, then acknowledges the original. A message the broker
/// gives back by itself (its consumer's channel closed: a crash, a lost connection) arrives flagged
/// <c>redelivered</c>; the store counts that lost lease the same way before handing it out, so a message
/// that kills its consumer every time still reaches the dead-letter queue. Messages the broker had only sent
/// ahead (the prefetch) when the channel closed were never leased: while this process lives it remembers them
/// and does not count their return. If the process itself dies, the next consumer cannot tell them apart, and
/// each such message counts one delivery per crash; keep <see cref="RabbitMqStoreOptions.PrefetchCount"/> near
/// what the receivers take at once to keep that small. A returned message goes to the back of its priority level.
/// </para>
/// <para>
/// A lease ends when its channel closes (the broker takes the delivery back at once), so every lease of a
/// channel ends with it; a later settle with its token returns <see langword="false"/>.
/// </para>
/// </remarks>
internal sealed class RabbitMqQueueStore<TMessage> : IDurableMessageStore<TMessage>
{
    private const string TokenPrefix = "rabbitmq:";
    private const int MaxRememberedSentAhead = 65_536;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? s_threadBuffer;

    private readonly RabbitMqConnection _connection;
    private readonly DeadLetterQueue _deadLetters;
    private readonly IMessageSerializer<TMessage> _serializer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<string, string>? _redact;
    private readonly int _maxPriority;
    private readonly int _maxMessageBytes;
    private readonly ushort _prefetch;
    private readonly InboundBuffer<TMessage> _buffer = new();
    private readonly ConcurrentDictionary<long, Lease<TMessage>> _leases = new();
    private readonly ConcurrentDictionary<long, Lease<TMessage>> _delayed = new();
    private readonly ConsumerChannel _consumer;
    private readonly ConcurrentDictionary<Task, bool> _background = new();
    private readonly ConcurrentDictionary<string, bool> _sentAheadOnly = new(StringComparer.Ordinal);
    private long _nextLeaseId;
    private int _disposed;

    public RabbitMqQueueStore(string name, RabbitMqStoreOptions options, IMessageSerializer<TMessage> serializer, TimeProvider timeProvider, ILogger logger)
    {
        Name = name;
        _serializer = serializer;
        _time = timeProvider;
        _redact = options.Redact;
        logger = StoreRedaction.Logger(logger, _redact);
        _logger = logger;
        _maxPriority = options.MaxPriority;
        _maxMessageBytes = options.MaxMessageBytes;
        _prefetch = (ushort)options.PrefetchCount;
        _connection = new RabbitMqConnection(options, new RabbitMqTopology(name, options.MaxPriority), logger);
        _consumer = new ConsumerChannel(_connection, name, _prefetch, options.RecoveryInterval, OnReceivedAsync, EndEveryLease, logger);
        _deadLetters = new DeadLetterQueue(_connection);
    }

    /// <inheritdoc/>
    public string Name { get; }

    public string MessagingSystem => "rabbitmq";

    /// <summary>The consumer channel's incarnation: a delivery of an older one went back to the broker with its channel.</summary>
    private long Generation => _consumer.Incarnation;

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var stored = ToStored(message, nameof(message));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        return _connection.PublishAsync(Name, stored, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// AMQP cannot accept several messages atomically together with publisher confirms, so the batch is
    /// published as single confirmed messages, sent in order and confirmed together; if the call throws, some of them may have been accepted
    /// (publish the batch again: ids let consumers recognise duplicates).
    /// </remarks>
    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var stored = new StoredMessage[messages.Count];
        for (var i = 0; i < stored.Length; i++)
        {
            var message = messages[i] ?? throw new ArgumentNullException(nameof(messages), $"The message at index {i} is null.");
            stored[i] = ToStored(message, nameof(messages));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        return stored.Length == 0 ? ValueTask.CompletedTask : new ValueTask(PublishAllAsync(stored, cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask<int>(ReceiveLoopAsync(buffer, leaseDuration, cancellationToken));
    }

    /// <inheritdoc/>
    public async ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (!TryEndLease(lease, out var held))
        {
            return false;
        }

        // Past the claim the ack must go out whatever the caller's token says: a lease ended without a
        // settle would leave the delivery unacknowledged on the channel for good.
        return await AckOriginalAsync(held.Inbound, CancellationToken.None).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A delay is kept by this store: it holds the delivery unacknowledged (counting against
    /// <see cref="RabbitMqStoreOptions.PrefetchCount"/>) and returns it to the queue when the delay ends. If
    /// the process dies first, the broker gives the message back at once: the delay is lost, the message
    /// is not.
    /// </remarks>
    public async ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (!TryEndLease(lease, out var held))
        {
            return false;
        }

        if (delay == TimeSpan.Zero)
        {
            await ReturnAsync(held, CancellationToken.None).ConfigureAwait(false);
            return true;
        }

        var delayed = new Lease<TMessage>(held.Id, held.Inbound, held.DeliveryCount, _time.GetUtcNow() + delay);
        _delayed[delayed.Id] = delayed;
        delayed.Timer = _time.CreateTimer(static state => ((RabbitMqQueueStore<TMessage>)((object[])state!)[0]).OnDelayEnded((Lease<TMessage>)((object[])state!)[1]), new object[] { this, delayed }, delay, Timeout.InfiniteTimeSpan);
        if (held.Inbound.Generation != Generation && delayed.TryEnd())
        {
            // The channel closed meanwhile: the broker has the message back already.
            _delayed.TryRemove(delayed.Id, out _);
        }

        return true;
    }

    /// <inheritdoc/>
    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        ThrowIfDisposed();
        var renewed = IsOurs(lease)
            && _leases.TryGetValue(lease.Id, out var held)
            && held.Inbound.Generation == Generation
            && held.TryRenew(_time.GetUtcNow() + leaseDuration, leaseDuration);
        return new ValueTask<bool>(renewed);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The copy is published to the dead-letter queue and confirmed, then the original is acknowledged. AMQP
    /// cannot do both at once: if the original's channel closed before the ack (the broker then has it back),
    /// the copy is taken out of the dead-letter queue again and the call returns <see langword="false"/>, as
    /// for any lease that ended, so the message is in the queue only.
    /// </remarks>
    public async ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (!TryEndLease(lease, out var held))
        {
            return false;
        }

        var entry = held.Inbound.Stored.AsDeadLetter(held.DeliveryCount, reason, _time.GetUtcNow().UtcTicks);
        try
        {
            await _connection.PublishAsync(_connection.Topology.DeadLetterQueue, entry, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            // Not dead-lettered: the message goes back to the queue rather than staying stuck on this channel.
            await ReturnAsync(held, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        if (await AckOriginalAsync(held.Inbound, CancellationToken.None).ConfigureAwait(false))
        {
            await WaitUntilProcessedAsync(held.Inbound.Channel, entry.Id).ConfigureAwait(false);
            return true;
        }

        // The original went back to the queue (its channel closed before the ack, or the ack failed and it
        // was requeued): the copy is taken out again, so the message is in one place, the queue.
        await RemoveDeadLetterCopyAsync(entry).ConfigureAwait(false);
        return false;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The entries are taken from the dead-letter queue and given back in their order (see
    /// <see cref="DeadLetterQueue"/>). The continuation token is the last entry's dead-letter time and a
    /// counter, so it stays valid while entries are purged or redriven.
    /// </remarks>
    public async ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var afterKey = ParseToken(continuationToken);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var (entries, more) = await _deadLetters.BrowseAsync(entry => filter.Matches(ToDeadLetter(entry)), afterKey, pageSize, cancellationToken).ConfigureAwait(false);
        var items = entries.ConvertAll(ToDeadLetter);
        return new DeadLetterPage<TMessage>(items, more && entries.Count > 0 ? TokenPrefix + entries[^1].DeadLetterKey : null);
    }

    /// <inheritdoc/>
    public async ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        return await _deadLetters.PurgeAsync(entry => filter.Matches(ToDeadLetter(entry)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// AMQP has no move between queues: each batch is published to the queue and confirmed, then
    /// acknowledged in the dead-letter queue. Between the two a message is briefly in both places (a crash
    /// there leaves a duplicate, never a loss).
    /// </remarks>
    public async ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var startedAt = _time.GetUtcNow().UtcTicks;
        return await _deadLetters.RedriveAsync(entry => filter.Matches(ToDeadLetter(entry)), batchSize, startedAt, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Ready is the broker's count of ready messages plus those this store was sent ahead and has not leased;
    /// in flight and delayed are this store's leases and delays (the broker does not report other
    /// consumers' unacknowledged messages over AMQP); dead-lettered is the dead-letter queue's count.
    /// </remarks>
    public async ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var (ready, deadLettered) = await _connection.WithAdminChannelAsync(
            async (channel, token) =>
            {
                var queue = await channel.QueueDeclarePassiveAsync(Name, token).ConfigureAwait(false);
                var deadLetters = await channel.QueueDeclarePassiveAsync(_connection.Topology.DeadLetterQueue, token).ConfigureAwait(false);
                return (queue.MessageCount, deadLetters.MessageCount);
            },
            cancellationToken).ConfigureAwait(false);
        // The broker does not tell how old its oldest message is without handing it over: OldestReadyAge stays unknown.
        return new StoreStatistics(ready + _buffer.Count, _delayed.Count, _leases.Count, deadLettered);
    }

    /// <summary>
    /// Disposes the store: waiting receivers fail with <see cref="ObjectDisposedException"/>, and the
    /// connection closes, which gives every unsettled or delayed message back to the broker.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _consumer.StopAsync().ConfigureAwait(false);
        var generation = Generation;
        foreach (var unleased in _buffer.Complete())
        {
            // Sent ahead but never handed out: back to the queue with its count unchanged. Left to the
            // channel's close, the broker would flag it redelivered and it would count as a delivery.
            if (unleased.Generation == generation)
            {
                Track(RepublishAsync(unleased.Channel, unleased.Tag, unleased.Stored));
            }
        }

        EndEveryLease();

        // Returns and dead-letters already started finish first: an original left unacknowledged would
        // come back beside its confirmed copy.
        await Task.WhenAll(_background.Keys).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _consumer.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task PublishAllAsync(StoredMessage[] messages, CancellationToken cancellationToken)
    {
        // Connected first: publishes that all waited for the connection would resume on several threads at
        // once and reach the broker out of order. Once connected, each is sent in turn before the next starts.
        await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        var publishes = new Task[messages.Length];
        for (var i = 0; i < messages.Length; i++)
        {
            publishes[i] = _connection.PublishAsync(Name, messages[i], cancellationToken).AsTask();
        }

        await Task.WhenAll(publishes).ConfigureAwait(false);
    }

    private async Task<int> ReceiveLoopAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        _consumer.Start();
        var taken = new Inbound<TMessage>[buffer.Length];
        while (true)
        {
            var count = _buffer.TryTake(taken, out var wait);
            if (count == 0)
            {
                await wait!.WaitAsync(cancellationToken).ConfigureAwait(false);
                ThrowIfDisposed();
                continue;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                _buffer.Return(taken.AsSpan(0, count), Generation);
                cancellationToken.ThrowIfCancellationRequested();
            }

            var leased = 0;
            var now = _time.GetUtcNow();
            var generation = Generation;
            var deliveries = buffer.Span;
            for (var i = 0; i < count; i++)
            {
                var inbound = taken[i];
                if (inbound.Generation != generation)
                {
                    continue; // its channel closed: the broker has it back
                }

                var deliveryCount = (int)Math.Min(int.MaxValue, inbound.Stored.Deliveries + 1);
                var lease = new Lease<TMessage>(Interlocked.Increment(ref _nextLeaseId), inbound, deliveryCount, now + leaseDuration);
                _leases[lease.Id] = lease;
                lease.Timer = _time.CreateTimer(static state => ((RabbitMqQueueStore<TMessage>)((object[])state!)[0]).OnLeaseExpired((Lease<TMessage>)((object[])state!)[1]), new object[] { this, lease }, leaseDuration, Timeout.InfiniteTimeSpan);
                deliveries[leased++] = new Delivery<TMessage>(inbound.Message, new LeaseToken(lease.Id, inbound.Generation, _leases), deliveryCount, lease.ExpiresAt) { LeaseGrantedAt = now };
            }

            if (leased > 0)
            {
                return leased;
            }
        }
    }

    private Task OnReceivedAsync(IChannel channel, long generation, BasicDeliverEventArgs args)
    {
        var stored = StoredMessage.Copy(args.BasicProperties, args.Body);
        if (generation != Generation)
        {
            // Dispatched after its channel closed: the broker has it back and sends it again, never leased.
            RememberSentAheadOnly(stored.Id);
            return Task.CompletedTask;
        }

        if (args.Redelivered && !_sentAheadOnly.TryRemove(stored.Id, out _))
        {
            // The broker took it back from a consumer whose channel closed: that lease counts too.
            Track(RepublishAsync(channel, args.DeliveryTag, stored.WithDeliveries(stored.Deliveries + 1)));
        }
        else if (!TryDecode(stored, out var message, out var failure))
        {
            Track(DeadLetterUnreadableAsync(channel, args.DeliveryTag, stored, failure));
        }
        else
        {
            _buffer.Add(new Inbound<TMessage>(message, stored, channel, args.DeliveryTag, generation));
        }

        return Task.CompletedTask;
    }

    /// <summary>Ends every lease and delay and forgets the buffered deliveries: their channel closed, the broker has them back.</summary>
    private void EndEveryLease()
    {
        foreach (var unleased in _buffer.Clear())
        {
            RememberSentAheadOnly(unleased.Stored.Id);
        }

        foreach (var table in new[] { _leases, _delayed })
        {
            foreach (var (id, lease) in table)
            {
                if (lease.TryEnd())
                {
                    table.TryRemove(id, out _);
                }
            }
        }
    }

    /// <summary>
    /// Notes a message the broker took back from a closed channel before any receiver leased it: when it comes
    /// back flagged redelivered, that is not a lost lease and does not count. Only this process knows it; a
    /// message sent ahead to a consumer process that died is counted (see the remarks on the type).
    /// </summary>
    private void RememberSentAheadOnly(string id)
    {
        if (_sentAheadOnly.Count >= MaxRememberedSentAhead)
        {
            // Ids of messages another consumer took meanwhile never come back here; the table stays bounded.
            _sentAheadOnly.Clear();
        }

        _sentAheadOnly[id] = true;
    }

    // Every path that ends a lease or a delay claims it the same way: the lease's own TryEnd decides, and
    // only the winner removes it from its table and settles or returns the message. Removing first (as a
    // settle once did) let an expiry claim the lease, lose the removal and skip the return, orphaning the
    // delivery on the channel.
    private void OnLeaseExpired(Lease<TMessage> lease)
    {
        if (lease.TryEnd(_time.GetUtcNow()))
        {
            _leases.TryRemove(lease.Id, out _);
            if (lease.Inbound.Generation == Generation)
            {
                Track(ReturnAsync(lease, CancellationToken.None));
            }
        }
    }

    private void OnDelayEnded(Lease<TMessage> delayed)
    {
        if (delayed.TryEnd())
        {
            _delayed.TryRemove(delayed.Id, out _);
            if (delayed.Inbound.Generation == Generation)
            {
                Track(ReturnAsync(delayed, CancellationToken.None));
            }
        }
    }

    /// <summary>Keeps a background return or dead-letter until it ends, so disposal can wait for it.</summary>
    private void Track(Task task)
    {
        if (task.IsCompleted)
        {
            return;
        }

        _background[task] = true;
        _ = task.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(done, out _), _background, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private bool IsOurs(LeaseToken token) => ReferenceEquals(token.Owner, _leases);

    private bool TryEndLease(LeaseToken token, out Lease<TMessage> lease)
    {
        if (IsOurs(token) && _leases.TryGetValue(token.Id, out lease!) && lease.TryEnd())
        {
            _leases.TryRemove(token.Id, out _);
            if (lease.Inbound.Generation == Generation)
            {
                return true;
            }
        }

        lease = null!;
        return false;
    }

    /// <summary>Returns a leased message to the queue with its delivery count: a confirmed copy first, then the original acknowledged.</summary>
    private Task ReturnAsync(Lease<TMessage> lease, CancellationToken cancellationToken) =>
        RepublishAsync(lease.Inbound.Channel, lease.Inbound.Tag, lease.Inbound.Stored.WithDeliveries(lease.DeliveryCount), cancellationToken);

    private async Task RepublishAsync(IChannel channel, ulong tag, StoredMessage copy, CancellationToken cancellationToken = default)
    {
        try
        {
            await _connection.PublishAsync(Name, copy, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The original stays with the broker: given back now, or when its channel closes.
            RabbitMqLog.RequeueFailed(_logger, exception, Name, copy.Id);
            await TrySettleAsync(channel, tag, requeue: true, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        await TrySettleAsync(channel, tag, requeue: false, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// An ack has no reply: it is only queued for the socket. A round trip on the same channel after it means
    /// the broker processed it, so the original cannot come back (a channel or store closed right after the
    /// call would otherwise put it back beside its dead-letter copy).
    /// </summary>
    private async Task WaitUntilProcessedAsync(IChannel channel, string messageId)
    {
        try
        {
            await channel.BasicQosAsync(0, _prefetch, global: false, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Unknown whether the ack arrived: the copy stays (a possible duplicate, never a loss).
            RabbitMqLog.DeadLetterAckUnconfirmed(_logger, exception, Name, messageId);
        }
    }

    private async Task RemoveDeadLetterCopyAsync(StoredMessage entry)
    {
        try
        {
            var removed = await _deadLetters.RemoveAsync(entry.DeadLetterKey!, entry.Id, CancellationToken.None).ConfigureAwait(false);
            if (removed == 0)
            {
                RabbitMqLog.DeadLetterCopyNotRemoved(_logger, null, Name, entry.Id);
            }
        }
        catch (Exception exception)
        {
            RabbitMqLog.DeadLetterCopyNotRemoved(_logger, exception, Name, entry.Id);
        }
    }

    private async Task DeadLetterUnreadableAsync(IChannel channel, ulong tag, StoredMessage stored, Exception failure)
    {
        RabbitMqLog.Unreadable(_logger, failure, Name, stored.Id);
        var entry = stored.AsDeadLetter(stored.Deliveries + 1, StoreRedaction.Text($"{failure.GetType().FullName}: {failure.Message}", _redact), _time.GetUtcNow().UtcTicks);
        try
        {
            await _connection.PublishAsync(_connection.Topology.DeadLetterQueue, entry, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            RabbitMqLog.RequeueFailed(_logger, exception, Name, stored.Id);
            await TrySettleAsync(channel, tag, requeue: true).ConfigureAwait(false);
            return;
        }

        await TrySettleAsync(channel, tag, requeue: false).ConfigureAwait(false);
    }

    private async Task<bool> AckOriginalAsync(Inbound<TMessage> inbound, CancellationToken cancellationToken) =>
        await TrySettleAsync(inbound.Channel, inbound.Tag, requeue: false, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Acks (or nacks with requeue); <see langword="false"/> when the channel closed first, so the broker has
    /// the message back. It never throws: its callers have already ended the lease, so a failed ack falls back
    /// to a nack with requeue, and a channel that cannot take either is closed, which gives everything back.
    /// </summary>
    private async Task<bool> TrySettleAsync(IChannel channel, ulong tag, bool requeue, CancellationToken cancellationToken = default)
    {
        try
        {
            if (requeue)
            {
                await channel.BasicNackAsync(tag, multiple: false, requeue: true, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await channel.BasicAckAsync(tag, multiple: false, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception) when (!channel.IsOpen)
        {
            return false;
        }
        catch (Exception exception)
        {
            RabbitMqLog.SettleFailed(_logger, exception, Name);
            if (!requeue && await TrySettleAsync(channel, tag, requeue: true, CancellationToken.None).ConfigureAwait(false))
            {
                return false;
            }

            await channel.AbortAsync(CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return false;
        }
    }

    private bool TryDecode(StoredMessage stored, out Message<TMessage> message, out Exception failure)
    {
        try
        {
            var body = _serializer.Deserialize(stored.Body.Span);
            message = new Message<TMessage>(body, stored.Id, Math.Min(stored.Priority, Message<TMessage>.MaxPriority), stored.Headers)
            {
                EnqueuedAt = stored.EnqueuedAtTicks > 0 ? new DateTimeOffset(stored.EnqueuedAtTicks, TimeSpan.Zero) : default,
            };
            failure = null!;
            return true;
        }
        catch (Exception exception) when (exception is MessageSerializationException or ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            message = null!;
            failure = exception;
            return false;
        }
    }

    private StoredMessage ToStored(Message<TMessage> message, string paramName)
    {
        if (message.Priority > _maxPriority)
        {
            throw new ArgumentOutOfRangeException(paramName, message.Priority, $"Priority {message.Priority} is above the queue's highest, {_maxPriority} (RabbitMqStoreOptions.MaxPriority).");
        }

        foreach (var key in message.Headers.Keys)
        {
            if (key.StartsWith(AmqpHeaders.ReservedPrefix, StringComparison.Ordinal))
            {
                throw new ArgumentException($"Header '{key}' uses the prefix '{AmqpHeaders.ReservedPrefix}', which the RabbitMQ store reserves for its own headers.", paramName);
            }
        }

        var writer = s_threadBuffer ??= new ArrayBufferWriter<byte>();
        writer.ResetWrittenCount();
        _serializer.Serialize(message.Body, writer);
        if (writer.WrittenCount > _maxMessageBytes)
        {
            throw new ArgumentException($"The serialized body has {writer.WrittenCount} bytes, over the {_maxMessageBytes} allowed (RabbitMqStoreOptions.MaxMessageBytes).", paramName);
        }

        // Stamped anew, as every store does: a caller's EnqueuedAt (a message received and published again) is ignored,
        // so the stored time cannot depend on whether the publish carried a trace context (a traced copy has none).
        return new StoredMessage(message.Id, message.Priority, _time.GetUtcNow().UtcTicks, 0, message.Headers, writer.WrittenSpan.ToArray());
    }

    private static string? ParseToken(string? continuationToken)
    {
        if (continuationToken is null)
        {
            return null;
        }

        if (!continuationToken.StartsWith(TokenPrefix, StringComparison.Ordinal) || continuationToken.Length == TokenPrefix.Length)
        {
            throw new ArgumentException("The continuation token was not issued by a RabbitMQ store.", nameof(continuationToken));
        }

        return continuationToken[TokenPrefix.Length..];
    }

    private DeadLetter<TMessage> ToDeadLetter(StoredMessage entry)
    {
        var deadLetteredAt = new DateTimeOffset(entry.DeadLetteredAtTicks, TimeSpan.Zero);
        var deliveries = (int)Math.Min(int.MaxValue, entry.Deliveries);
        if (TryDecode(entry, out var message, out _))
        {
            return new DeadLetter<TMessage>(message, entry.Reason ?? string.Empty, deliveries, deadLetteredAt);
        }

        var enqueuedAt = entry.EnqueuedAtTicks > 0 ? new DateTimeOffset(entry.EnqueuedAtTicks, TimeSpan.Zero) : default;
        return new DeadLetter<TMessage>(entry.Id, entry.Priority, enqueuedAt, entry.Body, entry.Reason ?? string.Empty, deliveries, deadLetteredAt);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
