using Microsoft.Data.Sqlite;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// Answers "is a message of a higher priority ready?" on a connection of its own, so consumers can ask before
/// every start without queuing behind the writer's transactions (WAL lets it read while the writer writes).
/// </summary>
internal sealed class ReadyProbe : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _readyAbove;
    private bool _disposed;

    public ReadyProbe(SqliteStoreOptions options, string name)
    {
        _connection = SqliteSchema.Open(options);
        try
        {
            // The ready index starts with the priority, so only rows above the given one are visited.
            _readyAbove = _connection.CreateCommand();
            _readyAbove.CommandText = $"SELECT EXISTS (SELECT 1 FROM {SqliteSchema.QueueTable(name)} WHERE priority > $priority AND visible_at <= $now)";
            _readyAbove.Parameters.Add("$priority", SqliteType.Integer);
            _readyAbove.Parameters.Add("$now", SqliteType.Integer);
            _readyAbove.Prepare();
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>Whether a row of a priority above <paramref name="priority"/> is visible at <paramref name="nowTicks"/>.</summary>
    public bool HasReadyAbove(int priority, long nowTicks)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _readyAbove.Parameters[0].Value = priority;
            _readyAbove.Parameters[1].Value = nowTicks;
            return _readyAbove.ExecuteScalar() is long found && found != 0;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _readyAbove.Dispose();
            _connection.Dispose();
        }
    }
}
