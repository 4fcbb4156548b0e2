using System.Buffers;
using System.Text.Json;
using MessagingPatterns.Serialization;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// The SQLite store: one table per queue plus a dead-letter table, in a database file that several
/// stores and processes may share. Every operation runs on the store's <see cref="GroupCommitWriter"/>,
/// which commits (and flushes, with <c>synchronous=FULL</c>) before any caller is released.
/// </summary>
/// <remarks>
/// <para>
/// One column, <c>visible_at</c>, says when a row may be received: its enqueue time, the end of a release
/// delay, or — while leased — the lease's end. A lease that ran out is therefore ready again without any
/// sweeper, and one index serves both fresh and expired messages. A lease is fenced by a random 64-bit
/// <c>lease_token</c>; ack, release, renew and dead-letter match it and the lease's end, so a stale token
/// changes nothing.
/// </para>
/// <para>
/// Times are ticks from the store's <see cref="TimeProvider"/>: a lease's end is written with the clock of
/// the process that leased, so processes sharing a file need synchronized clocks.
/// </para>
/// </remarks>
internal sealed class SqliteQueueStore<TMessage> : IDurableMessageStore<TMessage>, IOldestReadySource<TMessage>, IPreemptibleStore<TMessage>
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? s_threadBuffer;

    private readonly TimeProvider _time;
    private readonly IMessageSerializer<TMessage> _serializer;
    private readonly int _maxMessageBytes;
    private readonly int _maxFailedReads;
    private readonly TimeSpan _pollInterval;
    private readonly QueueCommands _commands;
    private readonly DeadLetterCommands _deadLetterCommands;
    private readonly GroupCommitWriter _writer;
    private readonly ReadyProbe _probe;
    private readonly ILogger _logger;
    private readonly Func<string, string>? _redact;
    private TaskCompletionSource? _readySignal;
    private int _disposed;

    public SqliteQueueStore(string name, SqliteStoreOptions options, IMessageSerializer<TMessage> serializer, TimeProvider timeProvider, ILogger? logger = null)
    {
        QueueNames.ThrowIfInvalid(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Name = name;
        _time = timeProvider;
        _serializer = serializer;
        _maxMessageBytes = options.MaxMessageBytes;
        _maxFailedReads = options.MaxFailedReads;
        _pollInterval = options.PollInterval;
        _redact = options.Redact;
        _logger = new SinkSafeLogger(StoreRedaction.Logger(logger ?? NullLogger.Instance, _redact));

        var connection = SqliteSchema.Open(options);
        try
        {
            SqliteSchema.EnsureQueue(connection, name);
            _commands = new QueueCommands(connection, name);
            _deadLetterCommands = new DeadLetterCommands(connection, name);

            // Before the writer's thread starts, so a probe that cannot open leaves nothing running.
            _probe = new ReadyProbe(options, name);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        _writer = new GroupCommitWriter(connection, _commands, options.MaxOperationsPerTransaction, name, options.BusyTimeout, _logger);
        SqliteLog.Opened(_logger, name, options.MaxOperationsPerTransaction);
    }

    /// <inheritdoc/>
    public string Name { get; }

    public string MessagingSystem => "sqlite";

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var row = ToRow(message, nameof(message));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask(SubmitAsync(new EnqueueOperation(this, [row]), cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var rows = new PendingRow[messages.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var message = messages[i] ?? throw new ArgumentNullException(nameof(messages), $"The message at index {i} is null.");
            rows[i] = ToRow(message, nameof(messages));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        return rows.Length == 0
            ? ValueTask.CompletedTask
            : new ValueTask(SubmitAsync(new EnqueueOperation(this, rows), cancellationToken));
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
        return ReceiveLoopAsync(buffer, leaseDuration, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask<Delivery<TMessage>?> TryLeaseOldestOfLowestPriorityAsync(TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var buffer = new Delivery<TMessage>[1];
        var taken = await SubmitAsync(new ReceiveOperation(this, buffer, leaseDuration, lowestFirst: true), cancellationToken).ConfigureAwait(false);
        return taken > 0 ? buffer[0] : null;
    }

    /// <inheritdoc/>
    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) =>
        Settle(new SettleOperation(this, SettleKind.Ack, lease, TimeSpan.Zero, null), lease, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return Settle(new SettleOperation(this, SettleKind.Release, lease, delay, null), lease, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> HasReadyAheadOfAsync(Message<TMessage> held, CancellationToken cancellationToken = default)
    {
        // The store serves the highest priority first, so only a higher priority goes ahead.
        ArgumentNullException.ThrowIfNull(held);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask<bool>(_probe.HasReadyAbove(held.Priority, NowTicks()));
    }

    /// <inheritdoc/>
    public ValueTask<int> HandBackAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leases);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ThrowIfDisposed();
        return leases.Count == 0 ? new ValueTask<int>(0) : new ValueTask<int>(SubmitAsync(new HandBackOperation(this, leases), cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return Settle(new SettleOperation(this, SettleKind.Renew, lease, leaseDuration, null), lease, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return Settle(new SettleOperation(this, SettleKind.DeadLetter, lease, TimeSpan.Zero, reason), lease, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var after = DeadLetterCommands.ParseToken(continuationToken);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<DeadLetterPage<TMessage>>(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask<DeadLetterPage<TMessage>>(SubmitAsync(new BrowseOperation(this, filter, after, pageSize), cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<long>(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask<long>(SubmitAsync(new PurgeOperation(this, filter), cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<long>(cancellationToken);
        }

        ThrowIfDisposed();
        return RedriveInBatchesAsync(filter, batchSize, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<StoreStatistics>(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask<StoreStatistics>(SubmitAsync(new StatisticsOperation(this), cancellationToken));
    }

    /// <summary>
    /// Disposes the store: waiting receivers fail with <see cref="ObjectDisposedException"/>, operations
    /// already queued still commit, then the connection closes. Messages stay in the database file.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            SignalReady();
        }

        // Every call waits for the connection to close, not only the first.
        await _writer.StopAsync().ConfigureAwait(false);
        _probe.Dispose();
    }

    private ValueTask<bool> Settle(SettleOperation operation, LeaseToken lease, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ThrowIfDisposed();

        // A token another store issued can never match a row here; answering at once spares a transaction.
        if (lease.Owner is not null && !ReferenceEquals(lease.Owner, this))
        {
            return new ValueTask<bool>(false);
        }

        return new ValueTask<bool>(SubmitAsync(operation, cancellationToken));
    }

    private async ValueTask<int> ReceiveLoopAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Taken before looking, so a publish that commits after the look still wakes this receiver.
            var ready = ReadySignal();
            var operation = new ReceiveOperation(this, buffer, leaseDuration);
            var taken = await SubmitAsync(operation, cancellationToken).ConfigureAwait(false);
            if (taken > 0)
            {
                return taken;
            }

            await WaitForWorkAsync(ready, operation.NextVisibleTicks, cancellationToken).ConfigureAwait(false);
            ThrowIfDisposed();
        }
    }

    private async Task WaitForWorkAsync(Task ready, long? nextVisibleTicks, CancellationToken cancellationToken)
    {
        var wait = _pollInterval;
        if (nextVisibleTicks is { } due)
        {
            var untilDue = TimeSpan.FromTicks(Math.Max(0, due - _time.GetUtcNow().UtcTicks));
            if (untilDue < wait)
            {
                wait = untilDue;
            }
        }

        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(wait, _time, stopDelay.Token);

        // The delay counts from when its timer was made; if the clock passed the due time in between,
        // the timer would fire late (with a manual clock, never), so look again at once instead.
        if (nextVisibleTicks is { } dueAgain && _time.GetUtcNow().UtcTicks >= dueAgain)
        {
            await stopDelay.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return;
        }

        await Task.WhenAny(ready, delay).ConfigureAwait(false);
        await stopDelay.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private Task ReadySignal()
    {
        while (true)
        {
            var current = Volatile.Read(ref _readySignal);
            if (current is not null)
            {
                return current.Task;
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref _readySignal, created, null) is null)
            {
                if (IsDisposed)
                {
                    created.TrySetResult();
                }

                return created.Task;
            }
        }
    }

    /// <summary>Wakes every receiver waiting on this store, after a commit that made messages ready.</summary>
    private void SignalReady() => Interlocked.Exchange(ref _readySignal, null)?.TrySetResult();

    private Task<TResult> SubmitAsync<TResult>(WriteOperation<TResult> operation, CancellationToken cancellationToken)
    {
        _writer.Submit(operation);
        return cancellationToken.CanBeCanceled ? WithCancellationAsync(operation, cancellationToken) : operation.Task;
    }

    private static async Task<TResult> WithCancellationAsync<TResult>(WriteOperation<TResult> operation, CancellationToken cancellationToken)
    {
        // Only an operation the writer has not taken yet can be withdrawn; once taken it runs to its
        // commit, and the caller hears the real outcome rather than an uncertain "cancelled".
        using var registration = cancellationToken.UnsafeRegister(
            static (state, token) =>
            {
                var pending = (WriteOperation)state!;
                if (pending.TryCancel())
                {
                    pending.Cancel(token);
                }
            },
            operation);
        return await operation.Task.ConfigureAwait(false);
    }

    private async ValueTask<long> RedriveInBatchesAsync(DeadLetterFilter filter, int batchSize, CancellationToken cancellationToken)
    {
        // One transaction per batch: a message moves in one commit, and a large redrive never holds the
        // write lock for long. Entries dead-lettered after the first batch are left for a later call.
        long redriven = 0, after = 0;
        long? upTo = null;
        while (true)
        {
            var batch = new RedriveBatchOperation(this, filter, after, upTo, batchSize);
            redriven += await SubmitAsync(batch, cancellationToken).ConfigureAwait(false);
            upTo = batch.UpTo;
            after = batch.Last;
            if (after >= upTo)
            {
                return redriven;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private DeadLetter<TMessage> ToDeadLetter(DeadLetterRow row)
    {
        var deadLetteredAt = new DateTimeOffset(row.DeadLetteredTicks, TimeSpan.Zero);
        try
        {
            var message = ToMessage(row.Id, row.Priority, row.Headers, row.Body, row.EnqueuedTicks);
            return new DeadLetter<TMessage>(message, row.Reason, row.DeliveryCount, deadLetteredAt);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Listed with its stored bytes, so an operator can see, purge or redrive what could not be read.
            SqliteLog.DeadLetterUnreadable(_logger, Name, row.Id, exception);
            var enqueuedAt = new DateTimeOffset(row.EnqueuedTicks, TimeSpan.Zero);
            return new DeadLetter<TMessage>(row.Id, row.Priority, enqueuedAt, row.Body, row.Reason, row.DeliveryCount, deadLetteredAt);
        }
    }

    private PendingRow ToRow(Message<TMessage> message, string paramName)
    {
        // Headers are stored beside the body, so they count against the same limit.
        string? headers = message.Headers.Count == 0
            ? null
            : JsonSerializer.Serialize(new Dictionary<string, string>(message.Headers, StringComparer.Ordinal), HeadersJsonContext.Default.DictionaryStringString);
        var headerBytes = headers is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(headers);

        var buffer = s_threadBuffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        _serializer.Serialize(message.Body, buffer);
        var size = buffer.WrittenCount;
        var body = (long)size + headerBytes <= _maxMessageBytes ? buffer.WrittenSpan.ToArray() : null;
        if (buffer.Capacity > 64 * 1024)
        {
            // Do not keep a large buffer alive on every thread that once published (or tried to) a big message.
            s_threadBuffer = null;
        }

        if (body is null)
        {
            var parts = headerBytes == 0 ? $"{size} bytes serialized" : $"{size + headerBytes} bytes serialized with its headers ({headerBytes} bytes of headers)";
            throw new ArgumentException(
                $"Message '{message.Id}' is {parts}, over the limit of {_maxMessageBytes} bytes ({nameof(SqliteStoreOptions)}.{nameof(SqliteStoreOptions.MaxMessageBytes)}).",
                paramName);
        }

        return new PendingRow(message.Id, message.Priority, headers, body);
    }

    private Message<TMessage> ToMessage(string id, int priority, string? headers, byte[] body, long enqueuedTicks)
    {
        var value = _serializer.Deserialize(body);
        var headerMap = headers is null ? null : JsonSerializer.Deserialize(headers, HeadersJsonContext.Default.DictionaryStringString);
        return new Message<TMessage>(value, id, priority, headerMap)
        {
            EnqueuedAt = new DateTimeOffset(enqueuedTicks, TimeSpan.Zero),
        };
    }

    private long NowTicks() => _time.GetUtcNow().UtcTicks;

    private static long AddClamped(long ticks, TimeSpan by) =>
        ticks > DateTimeOffset.MaxValue.UtcTicks - by.Ticks ? DateTimeOffset.MaxValue.UtcTicks : ticks + by.Ticks;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    private readonly record struct PendingRow(string Id, int Priority, string? Headers, byte[] Body);

    private enum SettleKind
    {
        Ack,
        Release,
        Renew,
        DeadLetter,
    }

    private sealed class EnqueueOperation(SqliteQueueStore<TMessage> store, PendingRow[] rows) : WriteOperation<bool>
    {
        public override void Execute()
        {
            var now = store.NowTicks();
            var insert = store._commands.Insert;
            foreach (var row in rows)
            {
                insert.BindText(1, row.Id);
                insert.BindInt64(2, row.Priority);
                insert.BindText(3, row.Headers);
                insert.BindBlob(4, row.Body);
                insert.BindInt64(5, now);
                insert.Execute();
            }

            Result = true;
        }

        protected override void OnCommitted() => store.SignalReady();
    }

    private sealed class ReceiveOperation(SqliteQueueStore<TMessage> store, Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, bool lowestFirst = false)
        : WriteOperation<int>
    {
        private readonly List<StoredRow> _rows = [];

        /// <summary>When nothing was ready: the earliest time a stored row becomes visible, if any.</summary>
        public long? NextVisibleTicks { get; private set; }

        public override void Execute()
        {
            NextVisibleTicks = null;
            Result = 0;

            // A receive queued before a dispose leases nothing: its caller could no longer settle what it took.
            if (store.IsDisposed)
            {
                return;
            }

            var commands = store._commands;
            var now = store.NowTicks();
            var expires = AddClamped(now, leaseDuration);
            var expiresAt = new DateTimeOffset(expires, TimeSpan.Zero);
            var grantedAt = new DateTimeOffset(now, TimeSpan.Zero);
            var span = buffer.Span;
            var taken = 0;
            while (taken < span.Length)
            {
                var wanted = span.Length - taken;
                ReadReady(lowestFirst ? commands.SelectOldestLowest : commands.SelectReady, now, wanted);
                foreach (var row in _rows)
                {
                    Message<TMessage> message;
                    try
                    {
                        message = store.ToMessage(row.Id, row.Priority, row.Headers, row.Body, row.EnqueuedTicks);
                    }
                    catch (Exception exception) when (exception is not OutOfMemoryException)
                    {
                        Unreadable(commands, row, exception, now, expires);
                        continue;
                    }

                    var token = NewLeaseToken();
                    commands.Lease.Parameters[0].Value = token;
                    commands.Lease.Parameters[1].Value = expires;
                    commands.Lease.Parameters[2].Value = row.Seq;
                    commands.Lease.ExecuteNonQuery();
                    span[taken++] = new Delivery<TMessage>(message, new LeaseToken(row.Seq, token, store), row.DeliveryCount + 1, expiresAt) { LeaseGrantedAt = grantedAt };
                }

                if (_rows.Count < wanted)
                {
                    break;
                }
            }

            if (taken == 0)
            {
                var next = commands.NextVisible.ExecuteScalar();
                NextVisibleTicks = next is long ticks ? ticks : null;
            }

            Result = taken;
        }

        /// <summary>
        /// A body this reader cannot read: hidden for a lease, as if a reader had failed it, so another reader
        /// (a newer one, during a rolling deploy) may try; dead-lettered, never dropped, once it has failed
        /// <see cref="SqliteStoreOptions.MaxFailedReads"/> reads. Either way in this transaction.
        /// </summary>
        private void Unreadable(QueueCommands commands, StoredRow row, Exception exception, long now, long expires)
        {
            var failedReads = row.ReadFailures + 1;
            SqliteLog.Unreadable(store._logger, store.Name, row.Id, failedReads, store._maxFailedReads, exception);
            if (failedReads < store._maxFailedReads)
            {
                commands.HideUnreadable.Parameters[0].Value = row.Seq;
                commands.HideUnreadable.Parameters[1].Value = expires;
                commands.HideUnreadable.ExecuteNonQuery();
                return;
            }

            var reason = StoreRedaction.Text(
                $"The stored message could not be deserialized ({failedReads} reads failed): {exception.GetType().FullName}: {exception.Message}", store._redact);
            commands.DeadLetterUnreadable.Parameters[0].Value = row.Seq;
            commands.DeadLetterUnreadable.Parameters[1].Value = reason;
            commands.DeadLetterUnreadable.Parameters[2].Value = now;
            commands.DeadLetterUnreadable.ExecuteNonQuery();
            commands.DeleteBySeq.Parameters[0].Value = row.Seq;
            commands.DeleteBySeq.ExecuteNonQuery();
        }

        private void ReadReady(SqliteCommand select, long now, int limit)
        {
            // Read the whole page before updating, so the updates never race the open cursor.
            _rows.Clear();
            select.Parameters[0].Value = now;
            select.Parameters[1].Value = limit;
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                _rows.Add(new StoredRow(
                    reader.GetInt64(0),
                    reader.GetString(1),
                    reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetFieldValue<byte[]>(4),
                    reader.GetInt64(5),
                    reader.GetInt32(6),
                    reader.GetInt32(7)));
            }
        }

        private static long NewLeaseToken()
        {
            long token;
            do
            {
                token = Random.Shared.NextInt64(long.MinValue, long.MaxValue);
            }
            while (token == 0);
            return token;
        }
    }

    private readonly record struct StoredRow(long Seq, string Id, int Priority, string? Headers, byte[] Body, long EnqueuedTicks, int DeliveryCount, int ReadFailures);

    private sealed class SettleOperation(SqliteQueueStore<TMessage> store, SettleKind kind, LeaseToken lease, TimeSpan span, string? reason)
        : WriteOperation<bool>
    {
        public override void Execute()
        {
            var commands = store._commands;
            var now = store.NowTicks();
            var command = kind switch
            {
                SettleKind.Ack => commands.Ack,
                SettleKind.Release => commands.Release,
                SettleKind.Renew => commands.Renew,
                _ => commands.DeadLetter,
            };

            // Every settle statement takes $seq, $token, $now first; release and renew add the new
            // visibility time, dead-letter the reason.
            command.Parameters[0].Value = lease.Id;
            command.Parameters[1].Value = lease.Version;
            command.Parameters[2].Value = now;
            switch (kind)
            {
                case SettleKind.Release:
                case SettleKind.Renew:
                    command.Parameters[3].Value = AddClamped(now, span);
                    break;
                case SettleKind.DeadLetter:
                    command.Parameters[3].Value = reason;
                    break;
            }

            var changed = command.ExecuteNonQuery() == 1;
            if (changed && kind == SettleKind.DeadLetter)
            {
                commands.DeleteBySeq.Parameters[0].Value = lease.Id;
                commands.DeleteBySeq.ExecuteNonQuery();
            }

            Result = changed;
        }

        protected override void OnCommitted()
        {
            // After a delayed release too: a waiting receiver then works out its wait again, instead of
            // sleeping until the lease's old end or the poll interval.
            if (Result && kind == SettleKind.Release)
            {
                store.SignalReady();
            }
        }
    }

    /// <summary>Hands back leased messages no handler started, in one transaction.</summary>
    private sealed class HandBackOperation(SqliteQueueStore<TMessage> store, IReadOnlyList<LeaseToken> leases) : WriteOperation<int>
    {
        public override void Execute()
        {
            var command = store._commands.HandBack;
            var now = store.NowTicks();
            var handedBack = 0;
            foreach (var lease in leases)
            {
                if (lease.Owner is not null && !ReferenceEquals(lease.Owner, store))
                {
                    continue;
                }

                command.Parameters[0].Value = lease.Id;
                command.Parameters[1].Value = lease.Version;
                command.Parameters[2].Value = now;
                handedBack += command.ExecuteNonQuery();
            }

            Result = handedBack;
        }

        protected override void OnCommitted()
        {
            if (Result > 0)
            {
                store.SignalReady();
            }
        }
    }

    private sealed class BrowseOperation(SqliteQueueStore<TMessage> store, DeadLetterFilter filter, long after, int pageSize)
        : WriteOperation<DeadLetterPage<TMessage>>
    {
        public override void Execute()
        {
            var rows = store._deadLetterCommands.Browse(filter, after, pageSize);
            var items = new List<DeadLetter<TMessage>>(rows.Count);
            foreach (var row in rows)
            {
                items.Add(store.ToDeadLetter(row));
            }

            // A token only when something may follow, so a caller's loop ends without an empty page.
            var more = rows.Count == pageSize && store._deadLetterCommands.AnyAfter(filter, rows[^1].Seq);
            Result = new DeadLetterPage<TMessage>(items, more ? DeadLetterCommands.Token(rows[^1].Seq) : null);
        }
    }

    private sealed class PurgeOperation(SqliteQueueStore<TMessage> store, DeadLetterFilter filter) : WriteOperation<long>
    {
        public override void Execute() => Result = store._deadLetterCommands.Purge(filter);
    }

    /// <summary>One batch of a redrive; the first batch also fixes where the redrive ends.</summary>
    private sealed class RedriveBatchOperation(SqliteQueueStore<TMessage> store, DeadLetterFilter filter, long after, long? upTo, int batchSize)
        : WriteOperation<int>
    {
        public long UpTo { get; private set; }

        public long Last { get; private set; }

        public override void Execute()
        {
            var commands = store._deadLetterCommands;
            UpTo = upTo ?? commands.LastSeq();
            Result = commands.Redrive(filter, after, UpTo, batchSize, store.NowTicks(), out var last);
            Last = last;
        }

        protected override void OnCommitted()
        {
            if (Result > 0)
            {
                store.SignalReady();
            }
        }
    }

    private sealed class StatisticsOperation(SqliteQueueStore<TMessage> store) : WriteOperation<StoreStatistics>
    {
        public override void Execute()
        {
            var commands = store._commands;
            var now = store.NowTicks();
            commands.Statistics.Parameters[0].Value = now;
            using var reader = commands.Statistics.ExecuteReader();
            reader.Read();
            Result = new StoreStatistics(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            {
                OldestReadyAge = reader.IsDBNull(4) ? null : TimeSpan.FromTicks(Math.Max(0, now - reader.GetInt64(4))),
            };
        }
    }
}
