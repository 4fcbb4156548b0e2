using MessagingPatterns.Serialization;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// The PostgreSQL store: rows of the schema's <c>messages</c> table with this queue's name. Publishes go through
/// one <see cref="GroupCommitWriter"/> and settles through another, each on its own connection, so a producer's
/// commit never waits behind the consumers' acks (or the other way round); a receive is one statement of its own
/// (<c>FOR UPDATE SKIP LOCKED</c>), so competing receivers in any process never wait for each other's rows.
/// </summary>
internal sealed class PostgreSqlQueueStore<TMessage> : IPostgreSqlMessageStore<TMessage>
{
    // Leases and delays beyond this are cut to it, so an end time always fits a DateTime when read back.
    private static readonly TimeSpan s_longestSpan = TimeSpan.FromDays(365 * 1000);

    // How long a cancelled receive waits to hand its rows back before it gives up and lets the lease run out.
    private static readonly TimeSpan s_unleaseTimeout = TimeSpan.FromSeconds(15);

    private readonly NpgsqlDataSource _dataSource;
    private readonly QueueSql _sql;
    private readonly DeadLetterSql _deadLetterSql;
    private readonly SchemaGate _schema;
    private readonly MessageCodec<TMessage> _codec;
    private readonly GroupCommitWriter _writer;
    private readonly GroupCommitWriter _settles;
    private readonly ReadyListener _listener;
    private readonly SchemaConnection _shared;
    private readonly Action _wake;
    private readonly PostgreSqlClock _clock;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _disposeTimeout;
    private readonly int _maxFailedReads;
    private readonly string _channel;
    private readonly ChangeSignal _waitingChanged = new();
    private readonly ILogger _logger;
    private readonly Func<string, string>? _redact;
    private TaskCompletionSource? _readySignal;
    private int _disposed;
    private int _waitingReceivers;

    public PostgreSqlQueueStore(string name, PostgreSqlStoreOptions options, IMessageSerializer<TMessage> serializer, TimeProvider timeProvider, ILogger logger)
    {
        Name = name;
        _time = timeProvider;
        _clock = options.Clock;
        _pollInterval = options.PollInterval;
        _disposeTimeout = options.DisposeTimeout;
        _maxFailedReads = options.MaxFailedReads;
        _redact = options.Redact;

        // The shared listener is handed the plain logger: it outlives this store and serves others with other hooks,
        // so it logs no exception message at all (only the type and SQLSTATE), and no store's hook is bypassed.
        var sharedLogger = logger;
        logger = StoreRedaction.Logger(logger, _redact);
        _logger = logger;
        _codec = new MessageCodec<TMessage>(serializer, options.MaxMessageBytes);
        _sql = new QueueSql(options.Schema);
        _deadLetterSql = new DeadLetterSql(options.Schema);
        _channel = PostgreSqlSchema.Channel(options.Schema);
        _shared = SchemaConnection.Acquire(options, sharedLogger);
        _dataSource = _shared.DataSource;
        _schema = _shared.Schema;
        _writer = new GroupCommitWriter(_dataSource, _schema, _sql, name, _channel, _clock, timeProvider, options.MaxOperationsPerTransaction, logger);
        _writer.Committed += SignalReady;
        _settles = new GroupCommitWriter(_dataSource, _schema, _sql, name, _channel, _clock, timeProvider, options.MaxOperationsPerTransaction, logger);
        _settles.Committed += SignalReady;
        _listener = _shared.Listener;
        _wake = SignalReady;
        _shared.Subscribe(name, _wake);
    }

    /// <inheritdoc/>
    public string Name { get; }

    public string MessagingSystem => "postgresql";

    /// <summary>The publishes' writer, for tests and benchmarks that look at how operations were coalesced.</summary>
    internal GroupCommitWriter Writer => _writer;

    /// <summary>The store's connections, shared with the process's other stores on its database and schema (for tests).</summary>
    internal NpgsqlDataSource DataSource => _dataSource;

    /// <summary>How many receivers are waiting for work (for tests that must act while one waits).</summary>
    internal int WaitingReceivers => Volatile.Read(ref _waitingReceivers);

    /// <summary>Whether the wake-up listener holds a live LISTEN (for tests).</summary>
    internal bool IsListening => _listener.IsListening;

    /// <summary>How many times the wake-up listener put a LISTEN in place, one more after each reconnect (for tests).</summary>
    internal int ListenerListens => _listener.Listens;

    /// <summary>
    /// Completes when <see cref="WaitingReceivers"/>, <see cref="IsListening"/> or <see cref="ListenerListens"/> next changes, so a test waits for
    /// the state it needs rather than polling; take it before looking at the state.
    /// </summary>
    internal Task ObservedStateChanged => Task.WhenAny(_waitingChanged.Next(), _listener.ListeningChanged);

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var row = _codec.ToRow(message, nameof(message));
        return Submit(new EnqueueOperation([row]), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        var rows = ToRows(messages);
        return rows.Length == 0 && !cancellationToken.IsCancellationRequested
            ? ValueTask.CompletedTask
            : Submit(new EnqueueOperation(rows), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(Message<TMessage> message, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return EnqueueInAsync([_codec.ToRow(message, nameof(message))], connection, transaction, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default) =>
        EnqueueInAsync(ToRows(messages), connection, transaction, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ThrowIfDisposed();
        return ReceiveLoopAsync(buffer, Clamp(leaseDuration), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) =>
        Settle(SettleKind.Ack, lease, TimeSpan.Zero, null, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>One DELETE for the whole batch, on a connection of its own, committed before it returns.</remarks>
    public ValueTask<IReadOnlyList<bool>> AckBatchAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leases);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<bool>>(cancellationToken);
        }

        ThrowIfDisposed();
        return AckBatchCoreAsync(leases, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return Settle(SettleKind.Release, lease, Clamp(delay), null, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return Settle(SettleKind.Renew, lease, Clamp(leaseDuration), null, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);

        // A reason often quotes an exception's message: kept as far as the server can store it, never a failure.
        return Settle(SettleKind.DeadLetter, lease, TimeSpan.Zero, StoredText.Reason(reason), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var after = DeadLetterSql.ParseToken(continuationToken);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<DeadLetterPage<TMessage>>(cancellationToken);
        }

        ThrowIfDisposed();
        return BrowseCoreAsync(filter, pageSize, after, cancellationToken);
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
        return PurgeCoreAsync(filter, cancellationToken);
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
        return RedriveCoreAsync(filter, batchSize, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<StoreStatistics>(cancellationToken);
        }

        ThrowIfDisposed();
        return StatisticsCoreAsync(cancellationToken);
    }

    /// <summary>
    /// Disposes the store: waiting receivers fail with <see cref="ObjectDisposedException"/>, publishes and
    /// settles already queued still commit (for at most <see cref="PostgreSqlStoreOptions.DisposeTimeout"/>; the rest
    /// fail), then its share of the pool and the wake-up listener is let go (closed with the last store of the
    /// process on the same database and schema). Messages stay in the database.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var first = Interlocked.Exchange(ref _disposed, 1) == 0;
        if (first)
        {
            SignalReady();
        }

        await Task.WhenAll(_writer.StopAsync(_disposeTimeout), _settles.StopAsync(_disposeTimeout)).ConfigureAwait(false);
        if (first)
        {
            // The pool and the listener close with the last store of the process that shares them.
            _shared.Unsubscribe(Name, _wake);
            await _shared.ReleaseAsync().ConfigureAwait(false);
        }
    }

    private PendingRow[] ToRows(IReadOnlyList<Message<TMessage>> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var rows = new PendingRow[messages.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var message = messages[i] ?? throw new ArgumentNullException(nameof(messages), $"The message at index {i} is null.");
            rows[i] = _codec.ToRow(message, nameof(messages));
        }

        return rows;
    }

    private ValueTask Submit(EnqueueOperation operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfDisposed();
        return new ValueTask(SubmitAsync(operation, cancellationToken));
    }

    private ValueTask<bool> Settle(SettleKind kind, LeaseToken lease, TimeSpan span, string? reason, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ThrowIfDisposed();

        // A token another store issued can never match a row of this queue; answering at once spares a round trip.
        if (!IsOwn(lease))
        {
            return new ValueTask<bool>(false);
        }

        return new ValueTask<bool>(SubmitAsync(new SettleOperation(kind, lease.Id, lease.Version, span, reason), cancellationToken));
    }

    private Task<TResult> SubmitAsync<TResult>(WriteOperation<TResult> operation, CancellationToken cancellationToken)
    {
        (operation is EnqueueOperation ? _writer : _settles).Submit(operation);
        return cancellationToken.CanBeCanceled ? WithCancellationAsync(operation, cancellationToken) : operation.Task;
    }

    private static async Task<TResult> WithCancellationAsync<TResult>(WriteOperation<TResult> operation, CancellationToken cancellationToken)
    {
        // Only an operation the writer has not taken can be withdrawn; once taken it runs to its commit, and the
        // caller hears the real outcome rather than an uncertain "cancelled".
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

    private async ValueTask EnqueueInAsync(PendingRow[] rows, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (transaction is not null && !ReferenceEquals(transaction.Connection, connection))
        {
            throw new ArgumentException("The transaction belongs to another connection (or has completed).", nameof(transaction));
        }

        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (rows.Length == 0)
        {
            return;
        }

        // Created beforehand on a connection of the store's own, never inside the caller's transaction.
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch.ConfigureAwait(false))
        {
            foreach (var insert in GroupCommitWriter.InsertCommands(_sql, Name, rows, _clock.Now(_time)))
            {
                batch.BatchCommands.Add(insert);
            }

            batch.BatchCommands.Add(GroupCommitWriter.Command(_sql.Notify, GroupCommitWriter.Text(_channel), GroupCommitWriter.Text(Name)));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<IReadOnlyList<bool>> AckBatchCoreAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken)
    {
        var acked = new bool[leases.Count];

        // A token another store issued can never match a row of this queue: answered false without being sent.
        var count = 0;
        foreach (var lease in leases)
        {
            count += IsOwn(lease) ? 1 : 0;
        }

        if (count == 0)
        {
            return acked;
        }

        var seqs = new long[count];
        var tokens = new long[count];
        count = 0;
        foreach (var lease in leases)
        {
            if (IsOwn(lease))
            {
                (seqs[count], tokens[count]) = (lease.Id, lease.Version);
                count++;
            }
        }

        // Sorted by row, as the settle writer's statements are, so two batches naming the same rows lock them in one order.
        Array.Sort(seqs, tokens);
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var removed = new HashSet<(long Seq, long Token)>(count);
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Ack, connection)
            {
                Parameters =
                {
                    new NpgsqlParameter<long[]> { TypedValue = seqs },
                    new NpgsqlParameter<long[]> { TypedValue = tokens },
                    GroupCommitWriter.Now(_clock.Now(_time)),
                },
            };
            await using (command.ConfigureAwait(false))
            {
                // Not cancellable once sent: the delete may commit, and the caller must hear what it removed.
                var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        removed.Add((reader.GetInt64(0), reader.GetInt64(1)));
                    }
                }
            }
        }

        // A lease named twice is acked once: the first mention answers true, a repeat false, as a second AckAsync would.
        for (var i = 0; i < acked.Length; i++)
        {
            var lease = leases[i];
            acked[i] = IsOwn(lease) && removed.Remove((lease.Id, lease.Version));
        }

        return acked;
    }

    /// <summary>Whether the token may name a row of this store: issued by it, or by no store (an unknown token matches nothing).</summary>
    private bool IsOwn(LeaseToken lease) => lease.Owner is null || ReferenceEquals(lease.Owner, this);

    private async ValueTask<int> ReceiveLoopAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        _listener.EnsureStarted();
        var contended = 0;
        while (true)
        {
            // Taken before looking, so a publish that commits after the look still wakes this receiver.
            var ready = ReadySignal();
            var lookedAt = _time.GetTimestamp();
            var (taken, secondsUntilVisible) = await ReceiveOnceAsync(buffer, leaseDuration, cancellationToken).ConfigureAwait(false);
            if (taken > 0)
            {
                return taken;
            }

            contended = secondsUntilVisible is <= 0 ? contended + 1 : 0;
            Interlocked.Increment(ref _waitingReceivers);
            _waitingChanged.Raise();
            try
            {
                await WaitForWorkAsync(ready, secondsUntilVisible, lookedAt, contended, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waitingReceivers);
                _waitingChanged.Raise();
            }

            ThrowIfDisposed();
        }
    }

    private async Task<(int Taken, double? SecondsUntilVisible)> ReceiveOnceAsync(
        Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Disposed meanwhile: lease nothing, since the caller could no longer settle it.
            ThrowIfDisposed();
            var now = _clock.Now(_time);
            var token = NewLeaseToken();
            var rows = await LeaseAsync(connection, buffer.Length, token, leaseDuration, now).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                var next = new NpgsqlCommand(_sql.NextVisible, connection)
                {
                    Parameters = { GroupCommitWriter.Text(Name), GroupCommitWriter.Now(now) },
                };
                await using (next.ConfigureAwait(false))
                {
                    var seconds = await next.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    return (0, seconds is double value ? value : null);
                }
            }

            // Cancelled while the (uncancellable) statement ran: hand the rows back as they were, then report the
            // cancellation, so a cancelled receive leases nothing and uses up no delivery attempt.
            if (cancellationToken.IsCancellationRequested)
            {
                await UnleaseAsync(connection, rows, token, now).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }

            var taken = await DeliverAsync(connection, rows, token, now, leaseDuration, buffer).ConfigureAwait(false);

            // Rows were leased but none could be read (now hidden or dead-lettered): look again at once.
            return (taken, taken == 0 ? 0 : null);
        }
    }

    private async Task<List<LeasedRow>> LeaseAsync(NpgsqlConnection connection, int limit, long token, TimeSpan leaseDuration, DateTimeOffset? now)
    {
        var command = new NpgsqlCommand(_sql.Receive, connection)
        {
            Parameters =
            {
                GroupCommitWriter.Text(Name),
                GroupCommitWriter.Now(now),
                new NpgsqlParameter<int> { TypedValue = limit },
                new NpgsqlParameter<long> { TypedValue = token },
                new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration },
            },
        };
        // Sized for a full buffer up front: the rows are large, and growing the list copies them several times.
        var rows = new List<LeasedRow>(limit);
        await using (command.ConfigureAwait(false))
        {
            // Not cancellable: once sent, the statement may commit, and what it leased must reach the caller.
            var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    rows.Add(new LeasedRow(
                        reader.GetInt64(0),
                        reader.GetString(1),
                        reader.GetInt16(2),
                        reader.IsDBNull(3) ? null : reader.GetString(3),
                        reader.GetFieldValue<byte[]>(4),
                        reader.GetDateTime(5),
                        reader.GetInt32(6),
                        reader.GetFieldValue<DateTimeOffset>(7),
                        reader.GetInt32(8)));
                }
            }
        }

        // RETURNING has no order of its own.
        rows.Sort(static (a, b) => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority) : a.Seq.CompareTo(b.Seq));
        return rows;
    }

    private async Task UnleaseAsync(NpgsqlConnection connection, List<LeasedRow> rows, long token, DateTimeOffset? now)
    {
        // Not bounded by the caller's token (already cancelled), nor refused once disposed: the rows must go back.
        using var timeout = new CancellationTokenSource(s_unleaseTimeout);
        try
        {
            var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    GroupCommitWriter.Command(
                        _sql.Unlease,
                        new NpgsqlParameter<long[]> { TypedValue = rows.Select(row => row.Seq).ToArray() },
                        new NpgsqlParameter<long> { TypedValue = token },
                        GroupCommitWriter.Now(now)),
                    GroupCommitWriter.Command(_sql.Notify, GroupCommitWriter.Text(_channel), GroupCommitWriter.Text(Name)),
                },
            };
            await using (batch.ConfigureAwait(false))
            {
                await batch.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
            }

            SignalReady();
        }
        catch (Exception exception) when (exception is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            PostgreSqlLog.UnleaseFailed(_logger, Name, rows.Count, exception);
        }
    }

    private async Task<int> DeliverAsync(NpgsqlConnection connection, List<LeasedRow> rows, long token, DateTimeOffset? now, TimeSpan leaseDuration, Memory<Delivery<TMessage>> buffer)
    {
        var taken = 0;
        foreach (var row in rows)
        {
            Message<TMessage> message;
            try
            {
                message = _codec.ToMessage(row.Id, row.Priority, row.Headers, row.Body, row.EnqueuedAt);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                await UnreadableAsync(connection, row, token, now, exception).ConfigureAwait(false);
                continue;
            }

            // The lease ends one lease duration after the database granted it, by the database's clock.
            buffer.Span[taken++] = new Delivery<TMessage>(message, new LeaseToken(row.Seq, token, this), row.DeliveryCount, row.LeaseEnd) { LeaseGrantedAt = row.LeaseEnd - leaseDuration };
        }

        return taken;
    }

    /// <summary>
    /// A body this reader cannot deserialize: hidden until its lease ends, as if a reader had failed it, so another
    /// reader (a newer one, during a rolling deploy) may try; dead-lettered, never dropped, once it has failed
    /// <see cref="PostgreSqlStoreOptions.MaxFailedReads"/> reads. Never throws: the rows read with it must reach the
    /// caller, and a row whose settle failed comes back when its lease ends.
    /// </summary>
    private async Task UnreadableAsync(NpgsqlConnection connection, LeasedRow row, long token, DateTimeOffset? now, Exception exception)
    {
        var failedReads = row.ReadFailures + 1;
        PostgreSqlLog.Unreadable(_logger, Name, row.Id, failedReads, _maxFailedReads, exception);
        try
        {
            if (failedReads < _maxFailedReads)
            {
                // Not bounded by the caller's token: the lease is already taken and the failed read must be counted.
                using var timeout = new CancellationTokenSource(s_unleaseTimeout);
                var hide = new NpgsqlCommand(_sql.HideUnreadable, connection)
                {
                    Parameters = { new NpgsqlParameter<long> { TypedValue = row.Seq }, new NpgsqlParameter<long> { TypedValue = token }, GroupCommitWriter.Now(now) },
                };
                await using (hide.ConfigureAwait(false))
                {
                    await hide.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
                }

                return;
            }

            var reason = StoredText.Reason(StoreRedaction.Text(
                $"The stored message could not be deserialized ({failedReads} reads failed): {exception.GetType().FullName}: {exception.Message}", _redact));
            await SubmitAsync(new SettleOperation(SettleKind.DeadLetter, row.Seq, token, TimeSpan.Zero, reason), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is not OutOfMemoryException)
        {
            PostgreSqlLog.UnreadableSettleFailed(_logger, Name, row.Id, failure);
        }
    }

    private async Task WaitForWorkAsync(Task ready, double? secondsUntilVisible, long lookedAt, int contended, CancellationToken cancellationToken)
    {
        var wait = _pollInterval;
        var clock = _time;
        if (secondsUntilVisible is { } seconds)
        {
            if (seconds <= 0)
            {
                // A row is due yet none was leased: another receiver holds it mid-statement, or it just went. Look
                // again at once, then back off in real time (never a hot loop), up to the poll interval.
                if (contended == 1)
                {
                    return;
                }

                wait = TimeSpan.FromMilliseconds(Math.Min(_pollInterval.TotalMilliseconds, 5 << Math.Min(contended, 6)));
                clock = TimeProvider.System;
            }
            else
            {
                // Counted from the look, not from now: time that passed while the look ran is already spent (on a
                // slow server, or when a test's clock moved meanwhile, the row may be due already).
                var untilVisible = TimeSpan.FromSeconds(seconds) - _time.GetElapsedTime(lookedAt);
                if (untilVisible <= TimeSpan.Zero)
                {
                    return;
                }

                if (untilVisible < wait)
                {
                    // Rounded up, so the next look finds the row visible rather than a few microseconds early.
                    wait = untilVisible + TimeSpan.FromTicks(10);
                }
            }
        }

        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(wait, clock, stopDelay.Token);
        await Task.WhenAny(ready, delay).ConfigureAwait(false);
        await stopDelay.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async ValueTask<DeadLetterPage<TMessage>> BrowseCoreAsync(DeadLetterFilter filter, int pageSize, long after, CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var items = new List<DeadLetter<TMessage>>(Math.Min(pageSize, 1024));
        long last = 0;
        var more = false;
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_deadLetterSql.Browse, connection);
            await using (command.ConfigureAwait(false))
            {
                DeadLetterSql.AddFilter(command.Parameters, Name, filter);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)pageSize + 1 });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        // One row beyond the page: only to know that more follow, so a caller's loop ends without an empty page.
                        if (items.Count == pageSize)
                        {
                            more = true;
                            break;
                        }

                        last = reader.GetInt64(0);
                        items.Add(ToDeadLetter(
                            reader.GetString(1),
                            reader.GetInt16(2),
                            reader.IsDBNull(3) ? null : reader.GetString(3),
                            reader.GetFieldValue<byte[]>(4),
                            reader.GetString(5),
                            reader.GetInt32(6),
                            reader.GetDateTime(7),
                            reader.GetFieldValue<DateTimeOffset>(8)));
                    }
                }
            }
        }

        return new DeadLetterPage<TMessage>(items, more ? DeadLetterSql.Token(last) : null);
    }

    private DeadLetter<TMessage> ToDeadLetter(string id, short priority, string? headers, byte[] body, string reason, int deliveryCount, DateTime enqueuedAt, DateTimeOffset deadLetteredAt)
    {
        try
        {
            return new DeadLetter<TMessage>(_codec.ToMessage(id, priority, headers, body, enqueuedAt), reason, deliveryCount, deadLetteredAt);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Listed with its stored bytes, so an operator can see, purge or redrive what could not be read.
            PostgreSqlLog.DeadLetterUnreadable(_logger, Name, id, exception);
            var enqueued = new DateTimeOffset(DateTime.SpecifyKind(enqueuedAt, DateTimeKind.Utc));
            return new DeadLetter<TMessage>(id, priority, enqueued, body, reason, deliveryCount, deadLetteredAt);
        }
    }

    private async ValueTask<long> PurgeCoreAsync(DeadLetterFilter filter, CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_deadLetterSql.Purge, connection);
            await using (command.ConfigureAwait(false))
            {
                DeadLetterSql.AddFilter(command.Parameters, Name, filter);
                return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<long> RedriveCoreAsync(DeadLetterFilter filter, int batchSize, CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Entries dead-lettered after this point are left for a later call: a message that fails again is not redriven twice.
            long upTo;
            var last = new NpgsqlCommand(_deadLetterSql.LastSeq, connection) { Parameters = { GroupCommitWriter.Text(Name) } };
            await using (last.ConfigureAwait(false))
            {
                upTo = (long)(await last.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            long redriven = 0;
            while (true)
            {
                // Not cancellable mid-batch: a batch sent may commit, and its count must be reported.
                cancellationToken.ThrowIfCancellationRequested();
                var batch = new NpgsqlBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    var move = new NpgsqlBatchCommand(_deadLetterSql.Redrive);
                    DeadLetterSql.AddFilter(move.Parameters, Name, filter);
                    move.Parameters.Add(new NpgsqlParameter<long> { TypedValue = upTo });
                    move.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
                    move.Parameters.Add(GroupCommitWriter.Now(_clock.Now(_time)));
                    batch.BatchCommands.Add(move);
                    batch.BatchCommands.Add(GroupCommitWriter.Command(_sql.Notify, GroupCommitWriter.Text(_channel), GroupCommitWriter.Text(Name)));
                    var moved = (long)(await batch.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false))!;
                    if (moved == 0)
                    {
                        return redriven;
                    }

                    redriven += moved;
                    SignalReady();
                }
            }
        }
    }

    private async ValueTask<StoreStatistics> StatisticsCoreAsync(CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = await ConnectionOpener.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Statistics, connection)
            {
                Parameters = { GroupCommitWriter.Text(Name), GroupCommitWriter.Now(_clock.Now(_time)) },
            };
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return new StoreStatistics(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
                    {
                        OldestReadyAge = await reader.IsDBNullAsync(4, cancellationToken).ConfigureAwait(false)
                            ? null
                            : TimeSpan.FromTicks(Math.Max(0, reader.GetFieldValue<TimeSpan>(4).Ticks)),
                    };
                }
            }
        }
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

    /// <summary>Wakes every receiver waiting on this store.</summary>
    private void SignalReady() => Interlocked.Exchange(ref _readySignal, null)?.TrySetResult();

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

    private static TimeSpan Clamp(TimeSpan span) => span > s_longestSpan ? s_longestSpan : span;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    private readonly record struct LeasedRow(long Seq, string Id, short Priority, string? Headers, byte[] Body, DateTime EnqueuedAt, int DeliveryCount, DateTimeOffset LeaseEnd, int ReadFailures);
}
