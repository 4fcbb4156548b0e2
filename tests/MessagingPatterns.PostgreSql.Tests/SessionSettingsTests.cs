using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// The store pins the settings its durability and leases rest on, so a database, role or connection string that
/// turns off synchronous commit or raises the isolation level cannot quietly weaken it.
/// </summary>
public sealed class SessionSettingsTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task OverDefaultsOfNoSynchronousCommitAndSerializable_TheStoreCommitsDurablyAtReadCommitted()
    {
        var options = Schema.Options();
        options.ConnectionString = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString)
        {
            // Session defaults a database or role might carry (ALTER DATABASE/ROLE ... SET), given the same way.
            Options = "-c synchronous_commit=off -c default_transaction_isolation=serializable",
        }.ConnectionString;
        await using var store = PostgreSqlMessageStore.Create<int>("pinned", options);

        await using var show = ((PostgreSqlQueueStore<int>)store).DataSource.CreateCommand("SELECT current_setting('synchronous_commit'), current_setting('transaction_isolation')");
        await using var reader = await show.ExecuteReaderAsync().WaitAsync(s_patience);
        (await reader.ReadAsync()).Should().BeTrue();
        reader.GetString(0).Should().Be("on");
        reader.GetString(1).Should().Be("read committed");
        await reader.DisposeAsync();

        await store.EnqueueAsync(new Message<int>(1, "m-1")).AsTask().WaitAsync(s_patience);
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience)).Should().Be(1);
        (await store.AckAsync(buffer[0].Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }
}
