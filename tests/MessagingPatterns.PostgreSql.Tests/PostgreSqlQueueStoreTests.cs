using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>What the PostgreSQL store does beyond the shared contract, on the database clock (its default).</summary>
public sealed class PostgreSqlQueueStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task Receive_TakesHigherPriorityFirst_ThenPublishOrder()
    {
        var store = Create<int>("orders");
        await store.EnqueueBatchAsync([new(1, "low-1", 0), new(2, "high-1", 5), new(3, "low-2", 0), new(4, "high-2", 5), new(5, "mid", 2)]);

        var buffer = new Delivery<int>[5];
        var count = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience);

        buffer.Take(count).Select(d => d.Message.Id).Should().Equal("high-1", "high-2", "mid", "low-1", "low-2");
    }

    [SkippableFact]
    public async Task ExpiredLease_OnTheDatabaseClock_IsRedelivered_AndTheStaleAckDeletesNothing()
    {
        var first = Create<int>("work");
        var second = Create<int>("work");
        await first.EnqueueAsync(new Message<int>(7, "m-7"));

        var stale = await ReceiveOneAsync(first, TimeSpan.FromMilliseconds(500));

        // The second store (another process, in effect) waits for the lease's end on the server's clock.
        var again = await ReceiveOneAsync(second, TimeSpan.FromMinutes(1));
        again.Message.Id.Should().Be("m-7");
        again.DeliveryCount.Should().Be(2);
        (await first.AckAsync(stale.Lease)).Should().BeFalse("the lease ended");
        (await second.GetStatisticsAsync()).InFlight.Should().Be(1, "the redelivered copy is kept");
        (await second.AckAsync(again.Lease)).Should().BeTrue();
    }

    [SkippableFact]
    public async Task Publish_ByAnotherStoreInstance_WakesAWaitingReceiverThroughNotify()
    {
        var options = Schema.Options();
        options.PollInterval = TimeSpan.FromHours(1);
        var consumer = Track(PostgreSqlMessageStore.Create<int>("wake", options));
        var producer = Create<int>("wake");
        await consumer.GetStatisticsAsync(); // the schema exists before the receive starts waiting

        var buffer = new Delivery<int>[1];
        var receiving = consumer.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask();
        var waiting = (PostgreSqlQueueStore<int>)consumer;
        await Eventually(waiting, () => waiting.WaitingReceivers == 1 && waiting.IsListening);
        await producer.EnqueueAsync(new Message<int>(1, "from-elsewhere"));

        (await receiving.WaitAsync(s_patience)).Should().Be(1, "a poll of an hour cannot be what woke it");
        buffer[0].Message.Id.Should().Be("from-elsewhere");
    }

    [SkippableFact]
    public async Task StoresOfOneProcess_OnOneDatabaseAndSchema_ShareOnePoolAndOneListener_AndEachQueueWakesOnlyItsReceivers()
    {
        var options = Schema.Options();
        options.PollInterval = TimeSpan.FromHours(1);
        var orders = (PostgreSqlQueueStore<int>)Track(PostgreSqlMessageStore.Create<int>("orders", options));
        var invoices = (PostgreSqlQueueStore<int>)Track(PostgreSqlMessageStore.Create<int>("invoices", options));
        var producer = Create<int>("invoices");
        await orders.GetStatisticsAsync();

        orders.DataSource.Should().BeSameAs(invoices.DataSource, "one pool per database and schema in a process");
        var ordersBuffer = new Delivery<int>[1];
        var invoicesBuffer = new Delivery<int>[1];
        var ordersReceiving = orders.ReceiveAsync(ordersBuffer, TimeSpan.FromMinutes(1)).AsTask();
        var invoicesReceiving = invoices.ReceiveAsync(invoicesBuffer, TimeSpan.FromMinutes(1)).AsTask();
        await Eventually(orders, () => orders.WaitingReceivers == 1 && orders.IsListening);
        await Eventually(invoices, () => invoices.WaitingReceivers == 1);
        (await CountListenersAsync(PostgreSqlSchema.Channel(Schema.Name))).Should().Be(1, "one LISTEN connection serves both queues");

        await producer.EnqueueAsync(new Message<int>(1, "invoice-1"));
        (await invoicesReceiving.WaitAsync(s_patience)).Should().Be(1, "a poll of an hour cannot be what woke it");
        ordersReceiving.IsCompleted.Should().BeFalse("a notification for another queue wakes none of this queue's receivers");

        // The last store of the two keeps the shared connections working.
        await invoices.DisposeAsync();
        await Create<int>("orders").EnqueueAsync(new Message<int>(3, "order-2"));
        (await ordersReceiving.WaitAsync(s_patience)).Should().Be(1);
        ordersBuffer[0].Message.Id.Should().Be("order-2");
    }

    [SkippableFact]
    public async Task PublishInCallersTransaction_Commit_MakesTheMessageVisible_AndRollback_LeavesNothing()
    {
        var store = Create<int>("outbox");
        await store.GetStatisticsAsync();
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();

        await using (var rolledBack = await connection.BeginTransactionAsync())
        {
            await store.EnqueueAsync(new Message<int>(1, "rolled-back"), connection, rolledBack);
            await rolledBack.RollbackAsync();
        }

        (await store.GetStatisticsAsync()).Ready.Should().Be(0, "a rolled-back publish leaves nothing");

        var buffer = new Delivery<int>[1];
        var receiving = store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask();
        await using (var committed = await connection.BeginTransactionAsync())
        {
            await store.EnqueueBatchAsync([new Message<int>(2, "committed")], connection, committed);
            (await store.GetStatisticsAsync()).Ready.Should().Be(0, "nothing is visible before the commit");
            await committed.CommitAsync();
        }

        (await receiving.WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("committed");
    }

    [SkippableFact]
    public async Task PublishInCallersTransaction_WithATransactionOfAnotherConnection_ThrowsNamingIt()
    {
        var store = Create<int>("outbox");
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await using var other = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();

        var act = () => store.EnqueueAsync(new Message<int>(1), connection, transaction).AsTask();

        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("transaction");
    }

    [SkippableFact]
    public async Task ConcurrentSinglePublishers_ShareTransactions()
    {
        const int Publishers = 16;
        const int Each = 50;
        var store = (PostgreSqlQueueStore<int>)Create<int>("group");
        await store.GetStatisticsAsync();

        await Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < Each; i++)
            {
                await store.EnqueueAsync(new Message<int>(p * Each + i));
            }
        }))).WaitAsync(s_patience * 3);

        (await store.GetStatisticsAsync()).Ready.Should().Be(Publishers * Each);
        store.Writer.Transactions.Should().BeLessThan(Publishers * Each, "concurrent publishes share commits");
    }

    [SkippableFact]
    public async Task UnreadableBody_WithOneReadAllowed_IsDeadLetteredWithTheReason_AndTheRestFlow()
    {
        var writer = Create<string>("mixed");
        var options = Schema.Options();
        options.MaxFailedReads = 1;
        var reader = Track(PostgreSqlMessageStore.Create<int>("mixed", options));
        await writer.EnqueueAsync(new Message<string>("not a number", "bad"));
        await reader.EnqueueAsync(new Message<int>(42, "good"));

        var delivery = await ReceiveOneAsync(reader, TimeSpan.FromMinutes(1));

        delivery.Message.Id.Should().Be("good");
        (await reader.GetStatisticsAsync()).DeadLettered.Should().Be(1);
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var reason = new NpgsqlCommand($"SELECT reason FROM \"{Schema.Name}\".dead_letters WHERE id = 'bad'", connection);
        ((string?)await reason.ExecuteScalarAsync()).Should().Contain("could not be deserialized");
    }

    [SkippableFact]
    public async Task Queues_InOneSchema_DoNotSeeEachOthersMessages()
    {
        var orders = Create<int>("orders");
        var invoices = Create<int>("invoices");
        await orders.EnqueueAsync(new Message<int>(1, "order"));
        await invoices.EnqueueAsync(new Message<int>(2, "invoice"));

        (await ReceiveOneAsync(invoices, TimeSpan.FromMinutes(1))).Message.Id.Should().Be("invoice");
        (await orders.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 0, 0));
    }

    [SkippableFact]
    public async Task CreateSchemaOff_WithoutTheTables_FailsClearly_AndWorksOnceTheScriptRan()
    {
        var options = Schema.Options();
        options.CreateSchema = false;
        var store = Track(PostgreSqlMessageStore.Create<int>("manual", options));

        var act = () => store.EnqueueAsync(new Message<int>(1)).AsTask();
        (await act.Should().ThrowAsync<PostgresException>()).Which.SqlState.Should().Be(PostgresErrorCodes.UndefinedTable);

        await using (var connection = new NpgsqlConnection(PostgresServer.ConnectionString))
        {
            await connection.OpenAsync();
            await using var script = new NpgsqlCommand(SchemaScriptTests.ShippedScript().Replace("\"messaging\"", $"\"{Schema.Name}\"", StringComparison.Ordinal), connection);
            await script.ExecuteNonQueryAsync();
        }

        await store.EnqueueAsync(new Message<int>(2));
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
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

    private static async Task<long> CountListenersAsync(string channel)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE query = $1", connection)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = $"LISTEN \"{channel}\"" } },
        };
        return (long)(await count.ExecuteScalarAsync())!;
    }

    private IPostgreSqlMessageStore<T> Create<T>(string name) => Track(PostgreSqlMessageStore.Create<T>(name, Schema.Options()));

    private T Track<T>(T store)
        where T : IAsyncDisposable
    {
        _stores.Add(store);
        return store;
    }

    /// <summary>Waits, within the patience, until a condition on the store's observed state holds, woken by each change of it.</summary>
    private static async Task Eventually<T>(PostgreSqlQueueStore<T> store, Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(s_patience);
        while (true)
        {
            // Taken before the look, so a change right after it still wakes this wait.
            var changed = store.ObservedStateChanged;
            if (condition())
            {
                return;
            }

            await changed.WaitAsync(timeout.Token);
        }
    }

    private static async Task<Delivery<T>> ReceiveOneAsync<T>(IMessageStore<T> store, TimeSpan lease)
    {
        var buffer = new Delivery<T>[1];
        (await store.ReceiveAsync(buffer, lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }
}
