using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// Runs a store's publishes and settles, coalescing whatever is pending into one transaction (group commit):
/// while one transaction is on the wire, the next cohort gathers, and then goes as one batch of at most one
/// statement per kind (arrays, <c>unnest</c>) in one round trip. Callers are released only after the commit.
/// </summary>
/// <remarks>
/// <para>
/// A batch without an explicit transaction runs in PostgreSQL's implicit transaction: all of it commits, or
/// none. If the server rejects a statement (an error that leaves the connection open), or the client refuses a
/// value before sending, each operation runs again alone, so one bad operation fails only its caller. A
/// transaction gathers at most <see cref="MaxBatchBytes"/> of rows from several callers. A broken connection
/// leaves the outcome unknown, so nothing is re-run: every caller hears the error, and a publisher may retry with
/// the same message id. When no connection can be had (the server is unreachable, full or refuses the login),
/// nothing was sent: the cohort and everything queued behind it fail at once, rather than each waiting out its
/// own connect timeout.
/// </para>
/// <para>
/// <see cref="StopAsync"/> lets what is queued commit for at most its drain time; then the connect or statement
/// in progress is abandoned and the rest fail with <see cref="ObjectDisposedException"/>, so a dispose ends in
/// bounded time even when the server does not answer.
/// </para>
/// <para>
/// Settles are matched to results by row, so two settles of one row never share a transaction: the second
/// waits for the next one, and sees the first's outcome.
/// </para>
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "StopAsync is the disposal; the abort source has no timer, so leaving it to the GC holds nothing.")]
internal sealed class GroupCommitWriter
{
    /// <summary>
    /// The bytes of message rows one transaction gathers from several callers, and the most one INSERT statement
    /// carries (a larger publish is split into several statements of its one transaction). Far below the server's
    /// 1 GiB limit on a protocol message, and small enough that one caller's large batch does not hold others long.
    /// </summary>
    public const long MaxBatchBytes = 16 * 1024 * 1024;

    private readonly Channel<WriteOperation> _pending = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NpgsqlDataSource _dataSource;
    private readonly SchemaGate _schema;
    private readonly QueueSql _sql;
    private readonly string _queue;
    private readonly string _channel;
    private readonly PostgreSqlClock _clock;
    private readonly TimeProvider _time;
    private readonly int _maxOperations;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;
    private long _transactions;

    public GroupCommitWriter(
        NpgsqlDataSource dataSource, SchemaGate schema, QueueSql sql, string queue, string channel,
        PostgreSqlClock clock, TimeProvider time, int maxOperations, ILogger logger)
    {
        _dataSource = dataSource;
        _schema = schema;
        _sql = sql;
        _queue = queue;
        _channel = channel;
        _clock = clock;
        _time = time;
        _maxOperations = maxOperations;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How many transactions the writer has sent (for tests and benchmarks of the coalescing).</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Raised after a commit that made messages ready (publishes or releases), to wake local receivers.</summary>
    public event Action? Committed;

    /// <summary>Queues an operation; once the writer is stopping, fails it with <see cref="ObjectDisposedException"/>.</summary>
    public void Submit(WriteOperation operation)
    {
        if (!_pending.Writer.TryWrite(operation) && operation.TryStart())
        {
            operation.Fail(new ObjectDisposedException(nameof(PostgreSqlMessageStore)));
        }
    }

    /// <summary>Runs what is queued for at most <paramref name="drain"/>, fails the rest, then stops.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        _pending.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(drain).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
            // The server is slow or gone: give up on it rather than wait for every queued cohort's timeouts.
        }

        await _abort.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _pending.Reader;
        var cohort = new List<WriteOperation>(Math.Min(_maxOperations, 1024));
        var rows = new HashSet<long>();
        WriteOperation? carried = null;
        long bytes = 0;
        while (carried is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            cohort.Clear();
            rows.Clear();
            bytes = 0;
            if (carried is not null)
            {
                cohort.Add(carried);
                if (carried is SettleOperation first)
                {
                    rows.Add(first.Seq);
                }

                bytes = (carried as EnqueueOperation)?.Bytes ?? 0;
                carried = null;
            }

            while (cohort.Count < _maxOperations && reader.TryRead(out var operation))
            {
                if (!operation.TryStart())
                {
                    continue;
                }

                if (operation is SettleOperation settle && !rows.Add(settle.Seq))
                {
                    carried = operation;
                    break;
                }

                if (operation is EnqueueOperation enqueue)
                {
                    // Over the budget: the next transaction takes it (alone if it is that large by itself).
                    if (cohort.Count > 0 && bytes + enqueue.Bytes > MaxBatchBytes)
                    {
                        carried = operation;
                        break;
                    }

                    bytes += enqueue.Bytes;
                }

                cohort.Add(operation);
            }

            if (cohort.Count > 0)
            {
                await RunCohortAsync(cohort).ConfigureAwait(false);
            }
        }
    }

    private async Task RunCohortAsync(List<WriteOperation> cohort)
    {
        NpgsqlConnection connection;
        try
        {
            connection = await ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Nothing was sent, so nothing was accepted; whatever is queued behind would wait for the same server.
            var failure = _abort.IsCancellationRequested ? new ObjectDisposedException(nameof(PostgreSqlMessageStore)) : exception;
            PostgreSqlLog.TransactionFailed(_logger, _queue, cohort.Count, failure);
            foreach (var operation in cohort)
            {
                operation.Fail(failure);
            }

            while (_pending.Reader.TryRead(out var queued))
            {
                if (queued.TryStart())
                {
                    queued.Fail(failure);
                }
            }

            return;
        }

        await using (connection.ConfigureAwait(false))
        {
            try
            {
                await ExecuteAsync(connection, cohort).ConfigureAwait(false);
            }
            catch (Exception exception) when (cohort.Count > 1 && NothingCommitted(exception, connection))
            {
                // Rejected by the server (rolled back) or by the client before sending: find the culprit by running each alone.
                foreach (var operation in cohort)
                {
                    await RunAloneAsync(connection, operation).ConfigureAwait(false);
                }

                return;
            }
            catch (Exception exception)
            {
                // Any failure, not only the database's: the loop must outlive it, or later callers would wait forever.
                PostgreSqlLog.TransactionFailed(_logger, _queue, cohort.Count, exception);
                foreach (var operation in cohort)
                {
                    operation.Fail(exception);
                }

                return;
            }
        }

        Finish(cohort);
    }

    /// <summary>The schema checked and a connection opened, or the reason none can be had; given up when stopping.</summary>
    private async Task<NpgsqlConnection> ConnectAsync()
    {
        await _schema.EnsureAsync().WaitAsync(_abort.Token).ConfigureAwait(false);
        return await ConnectionOpener.OpenAsync(_dataSource, _abort.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the failure leaves nothing committed and the connection sound: the server rejected a statement and
    /// the session goes on, or the client refused a value while binding (nothing was sent). A broken connection, or
    /// a server error that ends the session, leaves the outcome unknown.
    /// </summary>
    private static bool NothingCommitted(Exception exception, NpgsqlConnection connection) =>
        connection.FullState == System.Data.ConnectionState.Open
        && exception is PostgresException { InvariantSeverity: "ERROR" } or ArgumentException or InvalidCastException or FormatException or OverflowException;

    private async Task RunAloneAsync(NpgsqlConnection connection, WriteOperation operation)
    {
        List<WriteOperation> single = [operation];
        try
        {
            await ExecuteAsync(connection, single).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            operation.Fail(exception);
            return;
        }

        Finish(single);
    }

    private void Finish(List<WriteOperation> cohort)
    {
        var madeReady = false;
        foreach (var operation in cohort)
        {
            madeReady |= operation is EnqueueOperation || operation is SettleOperation { Kind: SettleKind.Release, Result: true };
        }

        if (madeReady)
        {
            Committed?.Invoke();
        }

        foreach (var operation in cohort)
        {
            operation.Complete();
        }
    }

    private async Task ExecuteAsync(NpgsqlConnection connection, List<WriteOperation> cohort)
    {
        var now = _clock.Now(_time);
        var batch = new NpgsqlBatch();
        await using (batch.ConfigureAwait(false))
        {
            var notify = AddInsert(batch, cohort, now);
            notify |= AddSettles(batch, cohort, SettleKind.Release, _sql.Release, now);
            AddSettles(batch, cohort, SettleKind.Ack, _sql.Ack, now);
            AddSettles(batch, cohort, SettleKind.Renew, _sql.Renew, now);
            AddSettles(batch, cohort, SettleKind.DeadLetter, _sql.DeadLetter, now);
            if (notify)
            {
                batch.BatchCommands.Add(Command(_sql.Notify, Text(_channel), Text(_queue)));
            }

            batch.Connection = connection;
            Interlocked.Increment(ref _transactions);
            var settled = new HashSet<long>();

            // Abandoned only when stopping past the drain time: the outcome is then unknown, as for a broken connection.
            var reader = await batch.ExecuteReaderAsync(_abort.Token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                // Every settle statement returns the rows it changed, "seq" first; rows are unique in a cohort.
                do
                {
                    var isSeq = reader.FieldCount >= 1 && reader.GetName(0) == "seq";
                    while (await reader.ReadAsync(_abort.Token).ConfigureAwait(false))
                    {
                        if (isSeq)
                        {
                            settled.Add(reader.GetInt64(0));
                        }
                    }
                }
                while (await reader.NextResultAsync(_abort.Token).ConfigureAwait(false));
            }

            foreach (var operation in cohort)
            {
                switch (operation)
                {
                    case EnqueueOperation enqueue:
                        enqueue.Result = true;
                        break;
                    case SettleOperation settle:
                        settle.Result = settled.Contains(settle.Seq);
                        break;
                }
            }
        }
    }

    private bool AddInsert(NpgsqlBatch batch, List<WriteOperation> cohort, DateTimeOffset? now)
    {
        IReadOnlyList<PendingRow> rows = cohort is [EnqueueOperation single]
            ? single.Rows
            : cohort.OfType<EnqueueOperation>().SelectMany(enqueue => enqueue.Rows).ToList();
        var any = false;
        foreach (var command in InsertCommands(_sql, _queue, rows, now))
        {
            batch.BatchCommands.Add(command);
            any = true;
        }

        return any;
    }

    private static bool AddSettles(NpgsqlBatch batch, List<WriteOperation> cohort, SettleKind kind, string sql, DateTimeOffset? now)
    {
        var settles = cohort.OfType<SettleOperation>().Where(settle => settle.Kind == kind).OrderBy(settle => settle.Seq).ToArray();
        if (settles.Length == 0)
        {
            return false;
        }

        var command = Command(
            sql,
            new NpgsqlParameter<long[]> { TypedValue = settles.Select(settle => settle.Seq).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = settles.Select(settle => settle.Token).ToArray() },
            Now(now));
        if (kind is SettleKind.Release or SettleKind.Renew)
        {
            command.Parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = settles.Select(settle => settle.Span).ToArray() });
        }
        else if (kind is SettleKind.DeadLetter)
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = settles.Select(settle => settle.Reason!).ToArray() });
        }

        batch.BatchCommands.Add(command);
        return true;
    }

    /// <summary>
    /// The INSERTs of <paramref name="rows"/> in order: statements of at most <see cref="MaxBatchBytes"/> each, so
    /// no protocol message nears the server's limit; in one transaction they commit all or none.
    /// </summary>
    public static IEnumerable<NpgsqlBatchCommand> InsertCommands(QueueSql sql, string queue, IReadOnlyList<PendingRow> rows, DateTimeOffset? now)
    {
        var start = 0;
        long bytes = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > start && bytes + rows[i].Bytes > MaxBatchBytes)
            {
                yield return InsertCommand(sql, queue, rows, start, i - start, now);
                start = i;
                bytes = 0;
            }

            bytes += rows[i].Bytes;
        }

        if (rows.Count > start)
        {
            yield return InsertCommand(sql, queue, rows, start, rows.Count - start, now);
        }
    }

    /// <summary>The INSERT of <paramref name="count"/> rows from <paramref name="start"/>, in order, as one statement.</summary>
    private static NpgsqlBatchCommand InsertCommand(QueueSql sql, string queue, IReadOnlyList<PendingRow> rows, int start, int count, DateTimeOffset? now)
    {
        var ids = new string[count];
        var priorities = new short[count];
        var headers = new string?[count];
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            (ids[i], priorities[i], headers[i], bodies[i]) = rows[start + i];
        }

        return Command(
            sql.Insert,
            Text(queue),
            new NpgsqlParameter<string[]> { TypedValue = ids },
            new NpgsqlParameter<short[]> { TypedValue = priorities },
            new NpgsqlParameter<string?[]> { TypedValue = headers },
            new NpgsqlParameter<byte[][]> { TypedValue = bodies },
            Now(now));
    }

    /// <summary>A statement with positional parameters.</summary>
    public static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter);
        }

        return command;
    }

    /// <summary>A text parameter.</summary>
    public static NpgsqlParameter Text(string value) => new NpgsqlParameter<string> { TypedValue = value };

    /// <summary>The "now" parameter: a time, or NULL for the server's <c>now()</c>.</summary>
    public static NpgsqlParameter Now(DateTimeOffset? now) =>
        new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now is { } value ? value : DBNull.Value };
}
