using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Data.Sqlite;

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
    private readonly SqliteConnection _connection;
    private readonly int _maxOperationsPerTransaction;
    private readonly ConcurrentQueue<WriteOperation> _pending = new();
    private readonly ManualResetEventSlim _available = new(false);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private volatile bool _hasExited;

    public GroupCommitWriter(SqliteConnection connection, int maxOperationsPerTransaction, string name)
    {
        _connection = connection;
        _maxOperationsPerTransaction = maxOperationsPerTransaction;
        _begin = Command("BEGIN IMMEDIATE");
        _commit = Command("COMMIT");
        _rollback = Command("ROLLBACK");

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
                while (Drain(batch))
                {
                    RunBatch(batch);
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
            _hasExited = true;
            FailLeftovers();
            _begin.Dispose();
            _commit.Dispose();
            _rollback.Dispose();
            _connection.Dispose();
            _exited.TrySetResult();
        }
    }

    private bool Drain(List<WriteOperation> batch)
    {
        while (batch.Count < _maxOperationsPerTransaction && _pending.TryDequeue(out var operation))
        {
            if (operation.TryStart())
            {
                batch.Add(operation);
            }
        }

        return batch.Count > 0;
    }

    private void RunBatch(List<WriteOperation> batch)
    {
        try
        {
            _begin.ExecuteNonQuery();
            foreach (var operation in batch)
            {
                operation.Execute();
            }

            _commit.ExecuteNonQuery();
        }
        catch (Exception exception)
        {
            // Any failure, not only SQLite's: the writer thread must outlive a bad operation, or every
            // caller after it would wait forever.
            TryRollback();
            if (batch.Count == 1)
            {
                batch[0].Fail(exception);
                return;
            }

            foreach (var operation in batch)
            {
                RunAlone(operation);
            }

            return;
        }

        foreach (var operation in batch)
        {
            operation.Complete();
        }
    }

    private void RunAlone(WriteOperation operation)
    {
        try
        {
            _begin.ExecuteNonQuery();
            operation.Execute();
            _commit.ExecuteNonQuery();
        }
        catch (Exception exception)
        {
            TryRollback();
            operation.Fail(exception);
            return;
        }

        operation.Complete();
    }

    private void TryRollback()
    {
        try
        {
            _rollback.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // No transaction was open (BEGIN itself failed, or SQLite already rolled back): nothing to undo.
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

    private SqliteCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }
}
