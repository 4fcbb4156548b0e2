using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// A store's first use when the schema already exists: it reads the catalog and runs no DDL, so it takes no lock
/// on the live table (an open outbox transaction cannot stall it) and works for a role that owns none of the tables.
/// </summary>
public sealed class SchemaOnFirstUseTests : IAsyncLifetime
{
    // Well under the 30 s command timeout a blocked DDL statement would wait for.
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(10);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task FirstUse_WhileAnotherTransactionHasWrittenToTheTable_IsNotBlocked()
    {
        var existing = Create("orders", Schema.Options());
        await existing.GetStatisticsAsync();
        await using var outbox = new NpgsqlConnection(PostgresServer.ConnectionString);
        await outbox.OpenAsync();
        await using var transaction = await outbox.BeginTransactionAsync();
        await existing.EnqueueAsync(new Message<int>(1, "in-open-transaction"), outbox, transaction);

        // A consumer process starting now: its first use must neither wait for that transaction nor queue others.
        var restarted = Create("invoices", Schema.Options());
        await restarted.EnqueueAsync(new Message<int>(2, "other")).AsTask().WaitAsync(s_patience);
        var buffer = new Delivery<int>[1];
        (await restarted.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience)).Should().Be(1);

        await transaction.CommitAsync();
        (await existing.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [SkippableFact]
    public async Task OutboxPublishesToTwoQueues_InOneTransaction_DoNotDeadlockOnTheSecondStoresFirstUse()
    {
        var orders = Create("orders", Schema.Options());
        await orders.GetStatisticsAsync();
        var invoices = Create("invoices", Schema.Options());
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await orders.EnqueueAsync(new Message<int>(1, "order-1"), connection, transaction).AsTask().WaitAsync(s_patience);
            await invoices.EnqueueAsync(new Message<int>(2, "invoice-1"), connection, transaction).AsTask().WaitAsync(s_patience);
            await transaction.CommitAsync();
        }

        (await orders.GetStatisticsAsync()).Ready.Should().Be(1);
        (await invoices.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [SkippableFact]
    public async Task ARoleThatOwnsNoTable_UsesTheExistingSchema()
    {
        var owner = Create("shared", Schema.Options());
        await owner.GetStatisticsAsync();
        await GrantToPeerAsync(Schema.Name);
        var options = Schema.Options();
        options.ConnectionString = PeerConnectionString();

        // Another service, under its own role with CREATE on the schema but owning none of the tables.
        var peer = Create("shared", options);
        await peer.EnqueueAsync(new Message<int>(1, "from-peer")).AsTask().WaitAsync(s_patience);
        var buffer = new Delivery<int>[1];
        (await peer.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience)).Should().Be(1);
        (await peer.AckAsync(buffer[0].Lease)).Should().BeTrue();
    }

    [SkippableFact]
    public async Task AMissingIndex_ThatCannotGetItsLock_FailsWithAClearErrorWithinSeconds()
    {
        var first = Create("orders", Schema.Options());
        await first.GetStatisticsAsync();
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using (var drop = new NpgsqlCommand($"DROP INDEX \"{Schema.Name}\".messages_ready", connection))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await using var transaction = await connection.BeginTransactionAsync();
        await using (var write = new NpgsqlCommand($"LOCK TABLE \"{Schema.Name}\".messages IN ROW EXCLUSIVE MODE", connection, transaction))
        {
            await write.ExecuteNonQueryAsync();
        }

        // Another process, in effect: stores of one process on one connection string share their schema check.
        var options = Schema.Options();
        options.ConnectionString = new NpgsqlConnectionStringBuilder(options.ConnectionString) { ApplicationName = "second-process" }.ConnectionString;
        var second = Create("orders", options);
        var act = () => second.GetStatisticsAsync().AsTask().WaitAsync(s_patience);

        (await act.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*messages_ready*schema.sql*");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }

    private static string PeerConnectionString() =>
        new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Username = "messaging_peer", Password = "messaging_peer" }.ConnectionString;

    private static async Task GrantToPeerAsync(string schema)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_roles WHERE rolname = 'messaging_peer'", connection))
        {
            Skip.If((long)(await exists.ExecuteScalarAsync())! == 0, "the server has no role messaging_peer; restart it with `scripts/brokers.sh start postgres`");
        }

        await using var grant = new NpgsqlCommand(
            $"""
            GRANT USAGE, CREATE ON SCHEMA "{schema}" TO messaging_peer;
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO messaging_peer;
            """,
            connection);
        await grant.ExecuteNonQueryAsync();
    }

    private IPostgreSqlMessageStore<int> Create(string queue, PostgreSqlStoreOptions options)
    {
        var store = PostgreSqlMessageStore.Create<int>(queue, options);
        _stores.Add(store);
        return store;
    }
}
