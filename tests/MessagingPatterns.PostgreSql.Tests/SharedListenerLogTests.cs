using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// The wake-up listener is shared by every store on a schema, whatever their <c>Redact</c> hooks: when it loses its
/// connection it logs the exception's type and SQLSTATE, never its message, so no store's hook is bypassed.
/// </summary>
public sealed class SharedListenerLogTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    [SkippableFact]
    public async Task AListenerSharedWithARedactingStore_LogsItsLostConnectionWithoutTheExceptionsMessage()
    {
        _schema = new TestSchema();
        var plainLog = new ListLogger();
        var redactedLog = new ListLogger();
        var plain = Track(PostgreSqlMessageStore.Create<int>("plain", Options(redact: null), logger: plainLog));
        var redacting = Track(PostgreSqlMessageStore.Create<int>("redacting", Options(text => "[redacted]"), logger: redactedLog));
        await plain.GetStatisticsAsync().AsTask().WaitAsync(s_patience);
        var store = (PostgreSqlQueueStore<int>)redacting;

        var receiving = redacting.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromMinutes(1)).AsTask();
        await Eventually(store, () => store.WaitingReceivers == 1 && store.IsListening);
        var listens = store.ListenerListens;

        // The server ends the listener's session; the exception's message ("terminating connection due to
        // administrator command") stands for any text a store's hook would have rewritten.
        await using (var admin = new NpgsqlConnection(PostgresServer.ConnectionString))
        {
            await admin.OpenAsync();
            await using var terminate = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = @listen", admin);
            terminate.Parameters.AddWithValue("listen", $"LISTEN \"{PostgreSqlSchema.Channel(_schema.Name)}\"");
            ((long)(await terminate.ExecuteScalarAsync())!).Should().Be(1, "one connection listens on the schema's channel");
        }

        await Eventually(store, () => store.ListenerListens > listens && store.IsListening);

        var lines = plainLog.Lines.Concat(redactedLog.Lines).ToList();
        lines.Should().Contain(line => line.Contains("lost its connection", StringComparison.Ordinal) && line.Contains("57P01", StringComparison.Ordinal));
        lines.Should().NotContain(line => line.Contains("administrator command", StringComparison.Ordinal));
        await redacting.EnqueueAsync(new Message<int>(1)).AsTask().WaitAsync(s_patience);
        (await receiving.WaitAsync(s_patience)).Should().Be(1);
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

    private PostgreSqlStoreOptions Options(Func<string, string>? redact)
    {
        var options = _schema!.Options();
        options.Redact = redact;

        // No ping: the listener's last statement stays its LISTEN, which is how the test finds its session.
        options.ListenerPingInterval = TimeSpan.FromHours(1);
        return options;
    }

    /// <summary>Waits, within the patience, until a condition on the store's observed state holds, woken by each change of it.</summary>
    private static async Task Eventually<T>(PostgreSqlQueueStore<T> store, Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(s_patience);
        while (true)
        {
            var changed = store.ObservedStateChanged;
            if (condition())
            {
                return;
            }

            await changed.WaitAsync(timeout.Token);
        }
    }

    private IPostgreSqlMessageStore<int> Track(IPostgreSqlMessageStore<int> store)
    {
        _stores.Add(store);
        return store;
    }
}
