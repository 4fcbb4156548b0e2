using Microsoft.Data.Sqlite;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>The group-commit writer's failure path: operations that shared a transaction with a failing one.</summary>
public sealed class GroupCommitWriterTests : IDisposable
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly TempDatabase _database = new();

    [Fact]
    public async Task OneFailingOperationInASharedTransaction_FailsOnlyItsOwnCaller_AndTheOthersCommitOnce()
    {
        var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE t (v INTEGER NOT NULL)";
            create.ExecuteNonQuery();
        }

        var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
        insert.Parameters.Add("$v", SqliteType.Integer);
        var logger = new ListLogger();
        var writer = new GroupCommitWriter(connection, insert, maxOperationsPerTransaction: 512, "test", TimeSpan.FromSeconds(30), logger);

        // The first operation holds the writer inside its transaction until the others are queued behind it.
        using var gate = new ManualResetEventSlim();
        var first = new InsertOperation(insert, 1, gate);
        writer.Submit(first);
        first.Started.Wait(s_patience).Should().BeTrue();
        var second = new InsertOperation(insert, 2);
        var failing = new FailingOperation();
        var third = new InsertOperation(insert, 3);
        writer.Submit(second);
        writer.Submit(failing);
        writer.Submit(third);
        gate.Set();

        (await Task.WhenAll(first.Task, second.Task, third.Task).WaitAsync(s_patience)).Should().AllBeEquivalentTo(true);
        await FluentActions.Awaiting(() => failing.Task.WaitAsync(s_patience)).Should().ThrowAsync<InvalidOperationException>().WithMessage("bad operation");
        await writer.StopAsync().WaitAsync(s_patience);

        ReadValues().Should().Equal(1, 2, 3);
        logger.Lines.Should().Contain(line => line.StartsWith("Warning: SQLite queue 'test': a transaction of", StringComparison.Ordinal) && line.Contains("bad operation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALoggerThatThrows_LosesItsLine_NotTheWriter()
    {
        var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE t (v INTEGER NOT NULL)";
            create.ExecuteNonQuery();
        }

        var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
        insert.Parameters.Add("$v", SqliteType.Integer);
        var writer = new GroupCommitWriter(connection, insert, maxOperationsPerTransaction: 512, "test", TimeSpan.FromSeconds(30), new ThrowingLogger());

        // A failing operation alone in its transaction is logged, and the log sink throws.
        var failing = new FailingOperation();
        writer.Submit(failing);
        await FluentActions.Awaiting(() => failing.Task.WaitAsync(s_patience)).Should().ThrowAsync<InvalidOperationException>().WithMessage("bad operation");

        var after = new InsertOperation(insert, 1);
        writer.Submit(after);
        (await after.Task.WaitAsync(s_patience)).Should().BeTrue("the writer's thread goes on after a sink failed");
        await writer.StopAsync().WaitAsync(s_patience);
        ReadValues().Should().Equal(1);
    }

    public void Dispose() => _database.Dispose();

    private List<long> ReadValues()
    {
        using var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT v FROM t ORDER BY v";
        using var reader = select.ExecuteReader();
        var values = new List<long>();
        while (reader.Read())
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }

    private sealed class InsertOperation(SqliteCommand insert, long value, ManualResetEventSlim? gate = null) : WriteOperation<bool>
    {
        public ManualResetEventSlim Started { get; } = new();

        public override void Execute()
        {
            Started.Set();
            gate?.Wait();
            insert.Parameters[0].Value = value;
            insert.ExecuteNonQuery();
            Result = true;
        }
    }

    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => throw new InvalidOperationException("sink down");

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("sink down");
    }

    private sealed class FailingOperation : WriteOperation<bool>
    {
        public override void Execute() => throw new InvalidOperationException("bad operation");
    }
}
