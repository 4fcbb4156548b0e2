using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// A statement prepared once and driven through SQLite's own API. For the publish path: binding and
/// stepping directly costs about a third of what <see cref="SqliteCommand.ExecuteNonQuery"/> does per row
/// (no reader object, no boxed parameter values), and a publish is one row per message.
/// </summary>
/// <remarks>Not thread-safe: like every statement of a store, only the writer thread uses it.</remarks>
internal sealed class NativeStatement : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _statement;

    public NativeStatement(SqliteConnection connection, string sql)
    {
        _connection = connection;
        var rc = raw.sqlite3_prepare_v2(connection.Handle, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
    }

    /// <summary>Binds text, or NULL for null, to the 1-based parameter <paramref name="index"/>.</summary>
    public void BindText(int index, string? value) =>
        Check(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text(_statement, index, value));

    public void BindInt64(int index, long value) => Check(raw.sqlite3_bind_int64(_statement, index, value));

    public void BindBlob(int index, ReadOnlySpan<byte> value) => Check(raw.sqlite3_bind_blob(_statement, index, value));

    /// <summary>Runs a statement that returns no rows, then resets it for the next use.</summary>
    public void Execute()
    {
        var rc = raw.sqlite3_step(_statement);

        // Reset even on failure, so the statement is usable again and holds no read transaction open.
        raw.sqlite3_reset(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
        }
    }

    public void Dispose() => _statement.Dispose();

    private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
}
