using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// Owns a store's connection and runs every operation on one thread, coalescing whatever is pending into
/// one transaction (group commit): a disk flush costs about a millisecond, so concurrent publishes and
/// acks share one instead of queuing behind one each. Callers are released only after the COMMIT.
/// </summary>
/// <remarks>
/// If any operation of a shared transaction fails, the transaction is rolled back and each operation is
/// run again in a transaction of its own, so one bad operation fails only its own caller.
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "StopAsync is the disposal: the writer thread closes the connection when it exits. The event is left to the GC (it never allocates a kernel handle), so a Submit racing with the stop cannot hit a disposed event.")]
internal sealed class GroupCommitWriter
{
    // Half a millisecond: released callers come back within microseconds, whatever the disk.
    private static readonly long s_maxCohortWaitTicks = Stopwatch.Frequency / 2_000;

    private readonly SqliteConnection _connection;
    private readonly IDisposable _statements;
    private readonly int _maxOperationsPerTransaction;
    private readonly ConcurrentQueue<WriteOperation> _pending = new();
    private readonly Queue<WriteOperation> _waitingForLock = new();
    private readonly long _busyTimeoutTicks;
    private readonly ManualResetEventSlim _available = new(false);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NativeStatement _begin;
    private readonly NativeStatement _commit;
    private readonly NativeStatement _rollback;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly string _name;
    private volatile bool _stopping;
    private volatile bool _hasExited;
    private int _cohortSize;
    private long _lastCommitTicks;

    /// <param name="connection">The store's connection; the writer closes it when it stops.</param>
    /// <param name="statements">The statements prepared on <paramref name="connection"/>, disposed before it closes.</param>
    /// <param name="maxOperationsPerTransaction">The most operations one transaction takes.</param>
    /// <param name="name">The queue's name, for the thread's name.</param>
    /// <param name="busyTimeout">How long an operation may wait for another connection's write lock.</param>
    /// <param name="logger">Where failed transactions are logged; a sink that throws loses the line, never the writer's thread.</param>
    public GroupCommitWriter(SqliteConnection connection, IDisposable statements, int maxOperationsPerTransaction, string name, TimeSpan busyTimeout, ILogger logger)
    {
        _logger = new SinkSafeLogger(logger);
        _name = name;
        _busyTimeoutTicks = (long)(busyTimeout.TotalSeconds * Stopwatch.Frequency);
        _connection = connection;
        _statements = statements;
        _maxOperationsPerTransaction = maxOperationsPerTransaction;
        _begin = new NativeStatement(connection, "BEGIN IMMEDIATE");
        _commit = new NativeStatement(connection, "COMMIT");
        _rollback = new NativeStatement(connection, "ROLLBACK");

        // A dedicated thread: SQLite calls block (there is no truly asynchronous I/O in it), and a flush
        // can take milliseconds, which must not hold a thread-pool thread.
        _thread = new Thread(Run) { IsBackground = true, Name = $"MessagingPatterns.Sqlite writer ({name})" };
        _thread.Start();
    }

    /// <summary>Queues an operation. If the writer has stopped, the operation fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Submit(WriteOperation operation)
    {
        _pending.Enqueue(operation);
        _available.Set();

        // The writer may have made its final sweep just before the enqueue; fail what it left behind.
        if (_hasExited)
        {
            FailLeftovers();
        }
    }

    /// <summary>Runs what is queued, then stops the thread and closes the connection.</summary>
    public Task StopAsync()
    {
        _stopping = true;
        _available.Set();
        return _exited.Task;
    }

    private void Run()
    {
        var batch = new List<WriteOperation>(_maxOperationsPerTransaction);
        try
        {
            while (true)
            {
                _available.Wait();

                // Reset before draining: a Submit after this point sets the event again, so nothing is missed.
                _available.Reset();
                while (RunTransaction(batch))
                {
                    batch.Clear();
                }

                if (_stopping && _pending.IsEmpty)
                {
                    break;
                }
            }
        }
        finally
        {
            // Only this thread touches the operations held back for the lock.
            while (_waitingForLock.TryDequeue(out var waiting))
            {
                waiting.Fail(new ObjectDisposedException(nameof(SqliteMessageStore)));
            }

            _hasExited = true;

            // A full fence between the flag and the sweep, as Submit has between its enqueue and its check
            // of the flag: otherwise each side could miss the other, and a caller would wait forever.
            Interlocked.MemoryBarrier();
            FailLeftovers();
            _begin.Dispose();
            _commit.Dispose();
            _rollback.Dispose();
            _statements.Dispose();
            _connection.Dispose();
            _exited.TrySetResult();
        }
    }

    /// <summary>Runs one transaction over what is pending; false if nothing was.</summary>
    /// <remarks>
    /// The transaction stays open, executing operations as they arrive, until the cohort the last commit
    /// released is back. Without that, the first caller back would commit nearly alone while the rest queued
    /// behind its flush, and the callers would settle into small cohorts that each pay a flush (measured:
    /// 16 publishers settled into transactions of about 8). The wait lasts at most as long as the last
    /// COMMIT took, because a second flush would cost that much, capped at half a millisecond; callers come
    /// back within microseconds, whatever the disk. With one caller there is nothing to wait for.
    /// </remarks>
    private bool RunTransaction(List<WriteOperation> batch)
    {
        if (!TryTake(out var first) && !TryTakeFirstReturning(out first))
        {
            return false;
        }

        batch.Add(first);
        var cohort = Math.Min(_cohortSize, _maxOperationsPerTransaction);
        var waitBudget = Math.Min(_lastCommitTicks, s_maxCohortWaitTicks);
        if (!TryBegin(first))
        {
            return true;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            first.Execute();
            while (batch.Count < _maxOperationsPerTransaction)
            {
                if (TryTake(out var operation))
                {
                    batch.Add(operation);
                    operation.Execute();
                }
                else if (batch.Count >= cohort || _stopping || Stopwatch.GetTimestamp() - started >= waitBudget)
                {
                    break;
                }
                else
                {
                    // Yield rather than spin: on a small machine the callers need this core to submit.
                    Thread.Yield();
                }
            }

            var committing = Stopwatch.GetTimestamp();
            _commit.Execute();
            _lastCommitTicks = Stopwatch.GetTimestamp() - committing;

            // The callers this commit releases, plus those already waiting, are the cohort to wait for next.
            _cohortSize = batch.Count + _pending.Count;
        }
        catch (Exception exception)
        {
            // Any failure, not only SQLite's: the writer thread must outlive a bad operation, or every
            // caller after it would wait forever.
            TryRollback();
            if (batch.Count == 1)
            {
                SqliteLog.OperationFailed(_logger, _name, exception);
                batch[0].Fail(exception);
                return true;
            }

            SqliteLog.TransactionFailed(_logger, _name, batch.Count, exception);
            foreach (var operation in batch)
            {
                RunAlone(operation);
            }

            return true;
        }

        foreach (var operation in batch)
        {
            operation.Complete();
        }

        return true;
    }

    /// <summary>
    /// Opens the write transaction for <paramref name="first"/> and what follows it. While another connection
    /// holds the write lock, BEGIN waits (the busy timeout) and fails with SQLITE_BUSY; then only the operations
    /// whose own wait is up fail, and the rest, queued in order, wait again. So a contended lock delays the
    /// whole group once, the writer resumes as soon as it is free, and no operation fails before its deadline
    /// (nor one busy timeout per operation after it, as when each waited for the lock in turn).
    /// </summary>
    private bool TryBegin(WriteOperation first)
    {
        while (true)
        {
            try
            {
                _begin.Execute();
                return true;
            }
            catch (SqliteException exception) when (exception.SqliteErrorCode == SQLitePCL.raw.SQLITE_BUSY)
            {
                var now = Stopwatch.GetTimestamp();
                FailThoseOutOfTime(now, exception);
                if (now - first.SubmittedAt >= _busyTimeoutTicks)
                {
                    first.Fail(exception);
                    return false;
                }
            }
        }
    }

    /// <summary>Fails the queued operations whose wait for the write lock is up; keeps the others in order.</summary>
    private void FailThoseOutOfTime(long now, SqliteException exception)
    {
        var kept = new List<WriteOperation>();
        while (TryTake(out var operation))
        {
            if (now - operation.SubmittedAt >= _busyTimeoutTicks)
            {
                operation.Fail(exception);
            }
            else
            {
                kept.Add(operation);
            }
        }

        foreach (var operation in kept)
        {
            _waitingForLock.Enqueue(operation);
        }
    }

    /// <summary>
    /// After a commit that released several callers, waits on this core for the first to come back, within the
    /// same budget as the cohort wait: blocking instead would add a thread wake-up (tens of microseconds here)
    /// to every transaction while callers keep publishing. False if none came.
    /// </summary>
    private bool TryTakeFirstReturning([NotNullWhen(true)] out WriteOperation? operation)
    {
        if (_cohortSize > 1)
        {
            var waitBudget = Math.Min(_lastCommitTicks, s_maxCohortWaitTicks);
            var started = Stopwatch.GetTimestamp();
            while (!_stopping && Stopwatch.GetTimestamp() - started < waitBudget)
            {
                Thread.Yield();
                if (TryTake(out operation))
                {
                    return true;
                }
            }

            // Nobody came back: the callers are idle, so block until the next submit.
            _cohortSize = 0;
        }

        operation = null;
        return false;
    }

    /// <summary>Dequeues the next operation its caller has not cancelled: those that waited for the lock first.</summary>
    private bool TryTake([NotNullWhen(true)] out WriteOperation? operation)
    {
        // Already started (claimed) when they were first taken.
        if (_waitingForLock.TryDequeue(out operation))
        {
            return true;
        }

        while (_pending.TryDequeue(out operation))
        {
            if (operation.TryStart())
            {
                return true;
            }
        }

        return false;
    }

    private void RunAlone(WriteOperation operation)
    {
        try
        {
            _begin.Execute();
            operation.Execute();
            _commit.Execute();
        }
        catch (Exception exception)
        {
            TryRollback();
            SqliteLog.OperationFailed(_logger, _name, exception);
            operation.Fail(exception);
            return;
        }

        operation.Complete();
    }

    private void TryRollback()
    {
        try
        {
            _rollback.Execute();
        }
        catch (SqliteException exception)
        {
            // No transaction was open (BEGIN itself failed, or SQLite already rolled back): nothing to undo.
            SqliteLog.RollbackFoundNoTransaction(_logger, _name, exception);
        }
    }

    private void FailLeftovers()
    {

        while (_pending.TryDequeue(out var operation))
        {
            if (operation.TryStart())
            {
                operation.Fail(new ObjectDisposedException(nameof(SqliteMessageStore)));
            }
        }
    }
}
