using System.Buffers;
using MessagingPatterns.Serialization;
using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// One caller's bad input or cancellation stays that caller's: its group-commit batch-mates still commit, a
/// cancelled receive leases nothing, and an unreadable message does not strand the good ones leased with it.
/// </summary>
public sealed class PostgreSqlFailureIsolationTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task ALoneSurrogateInOneId_FailsOnlyThatCall_AndItsBatchMatesCommit()
    {
        var store = Create<string>("mixed");
        await store.EnqueueBatchAsync([new("to-dead-letter", "dl"), new("to-ack", "ack")]);
        var leased = new Delivery<string>[2];
        (await store.ReceiveAsync(leased, TimeSpan.FromMinutes(5)).AsTask().WaitAsync(s_patience)).Should().Be(2);

        await using (var hold = await HoldWriterAsync(store, "hold"))
        {
            // Queued behind the held transaction, so the writer takes them as one cohort.
            var goods = Enumerable.Range(0, 5).Select(i => store.EnqueueAsync(new Message<string>("fine", $"good-{i}")).AsTask()).ToList();
            var bad = Start(() => store.EnqueueAsync(new Message<string>("bad", "truncated-emoji-\uD83D")).AsTask());
            var deadLettered = store.DeadLetterAsync(leased[0].Lease, "handler failed: \uD83D and \0 inside").AsTask();
            var acked = store.AckAsync(leased[1].Lease).AsTask();
            await hold.ReleaseAsync();

            await Task.WhenAll(goods).WaitAsync(s_patience);
            (await deadLettered.WaitAsync(s_patience)).Should().BeTrue("a reason is stored as far as it can be, never failing the settle");
            (await acked.WaitAsync(s_patience)).Should().BeTrue();
            (await bad.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<ArgumentException>()).WithParameterName("message");
        }

        (await store.GetStatisticsAsync()).Ready.Should().Be(5);
        var page = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10);
        page.Items.Should().ContainSingle().Which.Reason.Should().StartWith("handler failed: \uFFFD and  inside");
    }

    [SkippableFact]
    public async Task LargePublishes_AreSplitIntoTransactionsOfBoundedSize_AndALargeBatchStillCommitsWhole()
    {
        var options = Schema.Options();
        options.MaxMessageBytes = 16 * 1024 * 1024;
        var store = (PostgreSqlQueueStore<string>)Track(PostgreSqlMessageStore.Create<string>("big", options));
        var big = new string('x', 6 * 1024 * 1024);

        long transactions;
        await using (var hold = await HoldWriterAsync(store, "hold"))
        {
            transactions = store.Writer.Transactions;
            var publishes = Enumerable.Range(0, 4).Select(i => store.EnqueueAsync(new Message<string>(big, $"big-{i}")).AsTask()).ToList();
            await hold.ReleaseAsync();
            await Task.WhenAll(publishes).WaitAsync(s_patience);
        }

        (store.Writer.Transactions - transactions).Should().BeGreaterThanOrEqualTo(2, "24 MiB of rows is over one transaction's budget");

        // One call over the budget: several statements of one transaction, in order.
        await store.EnqueueBatchAsync(Enumerable.Range(0, 4).Select(i => new Message<string>(big, $"batch-{i}")).ToList()).AsTask().WaitAsync(s_patience);
        var ids = new List<string>();
        var buffer = new Delivery<string>[3];
        while (ids.Count < 8)
        {
            var count = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5)).AsTask().WaitAsync(s_patience);
            ids.AddRange(buffer.Take(count).Select(delivery => delivery.Message.Id));
        }

        ids.Should().Equal("big-0", "big-1", "big-2", "big-3", "batch-0", "batch-1", "batch-2", "batch-3");
    }

    [SkippableFact]
    public async Task AReceiveCancelledWhileItsLeaseStatementRuns_LeasesNothing_AndUsesNoAttempt()
    {
        var store = Create<int>("cancel");
        await store.EnqueueBatchAsync([new(1, "m-1"), new(2, "m-2")]);
        await using var blocker = new NpgsqlConnection(PostgresServer.ConnectionString);
        await blocker.OpenAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand($"LOCK TABLE \"{Schema.Name}\".messages IN SHARE MODE", blocker, transaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using var cancel = new CancellationTokenSource();
        var receiving = store.ReceiveAsync(new Delivery<int>[2], TimeSpan.FromMinutes(5), cancel.Token).AsTask();
        await WaitForLockWaitAsync(Schema.Name, "lease_token = $4");
        await cancel.CancelAsync();
        await transaction.CommitAsync();

        await receiving.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
        var statistics = await store.GetStatisticsAsync();
        statistics.Ready.Should().Be(2, "the rows went back at once");
        statistics.InFlight.Should().Be(0);
        var buffer = new Delivery<int>[2];
        (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5)).AsTask().WaitAsync(s_patience)).Should().Be(2);
        buffer.Select(delivery => delivery.DeliveryCount).Should().Equal(1, 1);
    }

    [SkippableFact]
    public async Task AnUnreadableMessageWhoseReasonCannotBeStoredAsIs_IsDeadLettered_AndTheGoodOnesLeasedWithItAreDelivered()
    {
        var options = Schema.Options();
        options.MaxFailedReads = 1;
        var store = Track(PostgreSqlMessageStore.Create("poison", options, new PoisonSerializer()));
        await store.EnqueueBatchAsync([new("poison", "unreadable"), new("fine", "good-1"), new("fine", "good-2")]);

        var buffer = new Delivery<string>[3];
        var count = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5)).AsTask().WaitAsync(s_patience);

        buffer.Take(count).Select(delivery => delivery.Message.Id).Should().Equal("good-1", "good-2");
        var page = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10);
        page.Items.Should().ContainSingle().Which.MessageId.Should().Be("unreadable");
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

    private static Task Start(Func<Task> call)
    {
        try
        {
            return call();
        }
        catch (Exception exception)
        {
            return Task.FromException(exception);
        }
    }

    /// <summary>Holds the store's writer in a transaction: an ack of a row this test has locked.</summary>
    private async Task<WriterHold> HoldWriterAsync<T>(IMessageStore<T> store, T body)
    {
        // The highest priority, so it is the one received.
        await store.EnqueueAsync(new Message<T>(body, "writer-hold", 9));
        var buffer = new Delivery<T>[1];
        (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5)).AsTask().WaitAsync(s_patience)).Should().Be(1);
        var held = buffer[0];
        held.Message.Id.Should().Be("writer-hold");
        var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM \"{Schema.Name}\".messages WHERE id = 'writer-hold' FOR UPDATE", connection, transaction))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        var ack = store.AckAsync(held.Lease).AsTask();
        await WaitForLockWaitAsync(Schema.Name, "DELETE FROM");
        return new WriterHold(connection, transaction, ack);
    }

    private static async Task WaitForLockWaitAsync(string schema, string statement)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 in query) > 0 AND position($2 in query) > 0",
            connection)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = $"\"{schema}\".messages" }, new NpgsqlParameter<string> { TypedValue = statement } },
        };
        // Polled: the server reports a statement waiting on a lock only through pg_stat_activity, with no notification.
        using var timeout = new CancellationTokenSource(s_patience);
        while ((long)(await command.ExecuteScalarAsync(timeout.Token))! == 0)
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    private IMessageStore<T> Create<T>(string queue) => Track(PostgreSqlMessageStore.Create<T>(queue, Schema.Options()));

    private TStore Track<TStore>(TStore store)
        where TStore : IAsyncDisposable
    {
        _stores.Add(store);
        return store;
    }

    /// <summary>A held writer; releasing it commits the blocking transaction and waits for the held ack.</summary>
    private sealed class WriterHold(NpgsqlConnection connection, NpgsqlTransaction transaction, Task<bool> ack) : IAsyncDisposable
    {
        private bool _released;

        public async Task ReleaseAsync()
        {
            if (!_released)
            {
                _released = true;
                await transaction.CommitAsync();
            }

            (await ack.WaitAsync(s_patience)).Should().BeTrue();
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Reads every body but "poison", whose exception message holds what PostgreSQL text cannot store.</summary>
    private sealed class PoisonSerializer : IMessageSerializer<string>
    {
        private readonly JsonMessageSerializer<string> _json = new();

        public void Serialize(string body, IBufferWriter<byte> destination) => _json.Serialize(body, destination);

        public string Deserialize(ReadOnlySpan<byte> payload)
        {
            var body = _json.Deserialize(payload);
            return body == "poison" ? throw new FormatException("raw byte \0 then half an emoji \uD83D") : body;
        }
    }
}
