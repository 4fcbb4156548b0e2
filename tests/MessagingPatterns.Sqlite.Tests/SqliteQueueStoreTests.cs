using Microsoft.Data.Sqlite;
using MessagingPatterns.Testing;
using MessagingPatterns.Serialization;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>What the SQLite store adds to the shared contract: durability, priority order, serialization limits, safe names.</summary>
public sealed class SqliteQueueStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(30);
    private readonly TempDatabase _database = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _stores = [];

    [Fact]
    public async Task Receive_MixedPriorities_ComeByPriorityThenPublishOrder()
    {
        var store = Open<ConformanceMessage>();
        var priorities = new[] { 0, 5, 0, 9, 5, 0, 9 };
        for (var i = 0; i < priorities.Length; i++)
        {
            await store.EnqueueAsync(new Message<ConformanceMessage>(new(i), $"m-{i}", priorities[i]));
        }

        var received = await ReceiveAsync(store, 10);

        received.Select(d => d.Message.Body.Number).Should().Equal(3, 6, 1, 4, 0, 2, 5);
        received.Select(d => d.Message.Priority).Should().Equal(9, 9, 5, 5, 0, 0, 0);
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsReadyAndLeasedMessages()
    {
        var first = Open<ConformanceMessage>();
        await first.EnqueueBatchAsync([new(new(1), "a"), new(new(2), "b")]);
        var leased = await ReceiveAsync(first, 1);
        await first.DisposeAsync();

        var reopened = Open<ConformanceMessage>();
        (await reopened.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 1, 0));
        (await reopened.AckAsync(leased[0].Lease)).Should().BeFalse("a token belongs to the store instance that issued it");

        _time.Advance(s_lease + TimeSpan.FromSeconds(1));
        var redelivered = await ReceiveAsync(reopened, 10);
        redelivered.Select(d => (d.Message.Id, d.DeliveryCount)).Should().Equal(("a", 2), ("b", 1));
    }

    [Fact]
    public async Task Receive_UnreadableBody_WithOneReadAllowed_DeadLettersItAtOnce_ListedWithItsRawBytes()
    {
        var writer = Open<string>();
        await writer.EnqueueAsync(new Message<string>("not a ConformanceMessage", "bad"));
        await writer.EnqueueAsync(new Message<string>("{\"number\":7}", "unused"));
        var options = _database.Options();
        options.MaxFailedReads = 1;
        var reader = Open<ConformanceMessage>(options);
        await writer.DisposeAsync();

        var buffer = new Delivery<ConformanceMessage>[10];
        var act = () => reader.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(TimeSpan.FromMilliseconds(1));

        await act.Should().ThrowAsync<TimeoutException>("neither stored body is a ConformanceMessage");
        (await reader.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 2));
        var listed = (await reader.BrowseDeadLettersAsync(DeadLetterFilter.All, 10)).Items;
        listed.Select(d => d.MessageId).Should().Equal("bad", "unused");
        listed[0].Message.Should().BeNull();
        listed[0].Reason.Should().Contain("could not be deserialized").And.Contain(nameof(MessageSerializationException));
        listed[0].DeliveryCount.Should().Be(1);
        System.Text.Json.JsonSerializer.Deserialize<string>(listed[0].RawBody!.Value.Span).Should().Be("not a ConformanceMessage");
    }

    [Fact]
    public async Task Receive_UnreadableBody_IsLoggedAsAnError_WithTheQueueAndTheMessageId()
    {
        var writer = Open<string>(name: "logged");
        await writer.EnqueueAsync(new Message<string>("not a ConformanceMessage", "unreadable-1"));
        await writer.DisposeAsync();
        var logger = new ListLogger();
        var options = _database.Options();
        options.MaxFailedReads = 1;
        var reader = SqliteMessageStore.Create<ConformanceMessage>("logged", options, timeProvider: _time, logger: logger);
        _stores.Add(reader);

        var act = () => reader.ReceiveAsync(new Delivery<ConformanceMessage>[1], s_lease).AsTask().WaitAsync(TimeSpan.FromMilliseconds(1));
        await act.Should().ThrowAsync<TimeoutException>();
        (await reader.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).DeadLettered.Should().Be(1, "the writer ran the receive before the statistics");

        logger.Lines.Should().Contain(line => line.StartsWith("Information: SQLite queue 'logged' opened", StringComparison.Ordinal));
        logger.Lines.Should().ContainSingle(line => line.StartsWith("Error: ", StringComparison.Ordinal))
            .Which.Should().Contain("'logged'").And.Contain("unreadable-1").And.Contain(nameof(MessageSerializationException));
    }

    [Fact]
    public async Task Receive_UnreadableBodyQuotedByTheSerializer_WithRedact_KeepsThePersonalDataOutOfTheReasonAndTheLogs()
    {
        const string Email = "alice@example.com";
        var logger = new ListLogger();
        var options = _database.Options();
        options.MaxFailedReads = 1;
        options.Redact = text => text.Replace(Email, "[email]", StringComparison.Ordinal);
        var store = SqliteMessageStore.Create("redacted", options, new QuotingSerializer(), _time, logger);
        _stores.Add(store);
        await store.EnqueueAsync(new Message<string>(Email, "personal")).AsTask().WaitAsync(s_patience);

        var act = () => store.ReceiveAsync(new Delivery<string>[1], s_lease).AsTask().WaitAsync(TimeSpan.FromMilliseconds(1));
        await act.Should().ThrowAsync<TimeoutException>("the only stored body cannot be read");
        var deadLetter = (await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10).AsTask().WaitAsync(s_patience)).Items.Should().ContainSingle().Subject;

        deadLetter.Reason.Should().Contain("could not be deserialized").And.Contain("[email]").And.NotContain(Email);
        logger.Lines.Should().Contain(line => line.StartsWith("Error: ", StringComparison.Ordinal) && line.Contains("personal", StringComparison.Ordinal))
            .Which.Should().Contain(nameof(MessageSerializationException), "the exception's type stays visible").And.Contain("[email]");
        logger.Lines.Should().NotContain(line => line.Contains(Email, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Receive_UnreadableBody_IsDeadLetteredOnlyAfterTheConfiguredFailedReads_AndAReaderThatLearnsItDeliversIt()
    {
        var serializer = new SwitchableSerializer { FailReads = true };
        var options = _database.Options();
        options.MaxFailedReads = 3;
        await using var store = SqliteMessageStore.Create("rolling", options, serializer, _time);
        await store.EnqueueBatchAsync([new Message<ConformanceMessage>(new(1), "new-format"), new Message<ConformanceMessage>(new(2), "later")]);
        var buffer = new Delivery<ConformanceMessage>[1];

        // Two failed reads: the rows are hidden for a lease each time, as if a reader had failed them, and stay queued.
        for (var read = 1; read <= 2; read++)
        {
            await FailedReadAsync(store, new StoreStatistics(0, 2, 0, 0));
            _time.Advance(s_lease + TimeSpan.FromSeconds(1));
        }

        // The new reader is deployed: the first message is read and delivered.
        serializer.FailReads = false;
        (await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("new-format");
        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();

        // The other one fails a third time (an old reader again): now it is dead-lettered, with its bytes.
        serializer.FailReads = true;
        await FailedReadAsync(store, new StoreStatistics(0, 0, 0, 1));
        var deadLetter = (await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10)).Items.Should().ContainSingle().Subject;
        deadLetter.MessageId.Should().Be("later");
        deadLetter.Message.Should().BeNull();
        deadLetter.RawBody.Should().NotBeNull();
        deadLetter.Reason.Should().Contain("3 reads failed");
    }

    [Fact]
    public async Task Enqueue_OverTheSizeLimit_ThrowsNamingTheMessageAndLimit_AndStoresNothing()
    {
        var options = _database.Options();
        options.MaxMessageBytes = 100;
        var store = Open<ConformanceMessage>(options);

        var single = () => store.EnqueueAsync(new(new(1, new string('x', 200)), "big")).AsTask();
        var batch = () => store.EnqueueBatchAsync([new(new(2), "small"), new(new(3, new string('x', 200)), "big2")]).AsTask();

        (await single.Should().ThrowAsync<ArgumentException>().WithParameterName("message"))
            .Which.Message.Should().Contain("'big'").And.Contain("100 bytes").And.Contain(nameof(SqliteStoreOptions.MaxMessageBytes));
        await batch.Should().ThrowAsync<ArgumentException>().WithParameterName("messages");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Enqueue_WithHeadersOverTheSizeLimit_ThrowsNamingTheLimit_AndStoresNothing()
    {
        var options = _database.Options();
        options.MaxMessageBytes = 100;
        var store = Open<ConformanceMessage>(options);
        var headers = new Dictionary<string, string> { ["trace"] = new string('h', 200) };

        var act = () => store.EnqueueAsync(new(new(1), "heavy-headers", 0, headers)).AsTask();

        (await act.Should().ThrowAsync<ArgumentException>().WithParameterName("message"))
            .Which.Message.Should().Contain("'heavy-headers'").And.Contain("headers").And.Contain(nameof(SqliteStoreOptions.MaxMessageBytes));
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Writer_WhileAnotherConnectionHoldsTheWriteLock_WaitsOnceForTheWholeGroup_AndResumesWhenItIsFree()
    {
        var options = _database.Options();
        options.BusyTimeout = TimeSpan.FromSeconds(5);
        var store = Open<ConformanceMessage>(options);
        await store.EnqueueAsync(new(new(0), "warm-up"));
        await using var other = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var publishes = Enumerable.Range(1, 200).Select(i => Task.Run(() => store.EnqueueAsync(new(new(i), $"m-{i}")).AsTask())).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(2));
        publishes.Should().OnlyContain(p => !p.IsCompleted, "the write lock is held by another connection");
        using (var commit = other.CreateCommand())
        {
            commit.CommandText = "COMMIT;";
            commit.ExecuteNonQuery();
        }

        var released = clock.Elapsed;
        await Task.WhenAll(publishes).WaitAsync(s_patience);
        (clock.Elapsed - released).Should().BeLessThan(TimeSpan.FromSeconds(2), "every waiting operation goes as soon as the lock is free");
        (await store.GetStatisticsAsync()).Ready.Should().Be(201);
    }

    [Fact]
    public async Task Writer_WhileTheWriteLockIsHeldPastTheBusyTimeout_FailsEachOperationAtItsOwnDeadline_NotOneAfterAnother()
    {
        var options = _database.Options();
        options.BusyTimeout = TimeSpan.FromMilliseconds(500);
        var store = Open<ConformanceMessage>(options);
        await store.EnqueueAsync(new(new(0), "warm-up"));
        await using var other = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        // Each publish fails once its own 0.5 s are up; before the fix the k-th failed after k × 0.5 s.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var publishes = Enumerable.Range(1, 20).Select(i => store.EnqueueAsync(new(new(i), $"m-{i}")).AsTask()).ToArray();
        var outcomes = await Task.WhenAll(publishes.Select(async publish =>
        {
            var failed = false;
            try
            {
                await publish.WaitAsync(s_patience);
            }
            catch (SqliteException)
            {
                failed = true;
            }

            return (failed, clock.Elapsed);
        }));
        using (var commit = other.CreateCommand())
        {
            commit.CommandText = "COMMIT;";
            commit.ExecuteNonQuery();
        }

        outcomes.Should().OnlyContain(o => o.failed, "the lock was held past every publish's deadline");
        outcomes.Max(o => o.Elapsed).Should().BeLessThan(TimeSpan.FromSeconds(1.5), "no publish waits much past its own busy timeout");
        await store.EnqueueAsync(new(new(21), "after")).AsTask().WaitAsync(s_patience);
        (await store.GetStatisticsAsync()).Ready.Should().Be(2);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1starts-with-digit")]
    [InlineData("q\"; DROP TABLE x; --")]
    [InlineData("has space")]
    public void Create_WithAnInvalidQueueName_ThrowsArgumentException(string name)
    {
        var act = () => SqliteMessageStore.Create<ConformanceMessage>(name, _database.Options());

        act.Should().Throw<ArgumentException>().WithParameterName(nameof(name));
        File.Exists(_database.Path).Should().BeFalse("nothing is opened for a rejected name");
    }

    [Fact]
    public void Create_WithInvalidOptions_ThrowsNamingEachProblem()
    {
        var options = new SqliteStoreOptions { MaxMessageBytes = 0, PollInterval = TimeSpan.Zero, MaxOperationsPerTransaction = 0 };

        var act = () => SqliteMessageStore.Create<ConformanceMessage>("queue", options);

        var failures = act.Should().Throw<OptionsValidationException>().Which.Failures.ToList();
        failures.Should().Contain(f => f.Contains(nameof(SqliteStoreOptions.DatabasePath), StringComparison.Ordinal));
        failures.Should().Contain(f => f.Contains(nameof(SqliteStoreOptions.MaxMessageBytes), StringComparison.Ordinal));
        failures.Should().Contain(f => f.Contains(nameof(SqliteStoreOptions.PollInterval), StringComparison.Ordinal));
        failures.Should().Contain(f => f.Contains(nameof(SqliteStoreOptions.MaxOperationsPerTransaction), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_TwoQueuesInOneFile_KeepsThemApart()
    {
        var orders = Open<ConformanceMessage>(name: "orders");
        var emails = Open<ConformanceMessage>(name: "emails.v2");
        await orders.EnqueueAsync(new(new(1), "order"));

        (await emails.GetStatisticsAsync()).Ready.Should().Be(0);
        (await ReceiveAsync(orders, 5)).Should().ContainSingle().Which.Message.Id.Should().Be("order");
    }

    [Fact]
    public async Task Create_QueueNamedLikeAnotherButForCase_IsRefused_AndTheOtherKeepsItsMessages()
    {
        var orders = Open<ConformanceMessage>(name: "orders");
        await orders.EnqueueAsync(new(new(1), "order"));

        var act = () => Open<ConformanceMessage>(name: "Orders");

        act.Should().Throw<InvalidOperationException>().WithMessage("*'Orders'*'orders'*ignore case*");
        (await ReceiveAsync(orders, 5)).Should().ContainSingle().Which.Message.Id.Should().Be("order");
    }

    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=queue;Mode=Memory")]
    [InlineData("Data Source=")]
    public void Create_OnAnInMemoryOrTemporaryDatabase_IsRefused(string connectionString)
    {
        var act = () => SqliteMessageStore.Create<ConformanceMessage>("queue", new SqliteStoreOptions { ConnectionString = connectionString });

        act.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle().Which.Should().Contain(nameof(SqliteStoreOptions.ConnectionString));
    }

    [Theory]
    [InlineData(":memory:")]
    [InlineData("file::memory:")]
    [InlineData("file:queue?mode=memory")]
    public void Create_WithAnInMemoryDatabasePath_IsRefusedNamingDatabasePath(string path)
    {
        var act = () => SqliteMessageStore.Create<ConformanceMessage>("queue", new SqliteStoreOptions { DatabasePath = path });

        act.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle().Which.Should().Contain(nameof(SqliteStoreOptions.DatabasePath)).And.Contain("in-memory");
    }

    [Fact]
    public async Task Release_WithDelay_WakesAWaitingReceiverWhenTheDelayEnds()
    {
        var options = _database.Options();
        options.PollInterval = TimeSpan.FromHours(1);
        var store = Open<ConformanceMessage>(options);
        await store.EnqueueAsync(new(new(1), "retry-me"));
        var leased = await ReceiveAsync(store, 1);

        // Waits for the lease's end (30 s) until the release tells it the message is due sooner.
        var buffer = new Delivery<ConformanceMessage>[1];
        var waiting = store.ReceiveAsync(buffer, s_lease).AsTask();
        (await store.ReleaseAsync(leased[0].Lease, TimeSpan.FromSeconds(5))).Should().BeTrue();
        _time.Advance(TimeSpan.FromSeconds(5));

        (await waiting.WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("retry-me");
        buffer[0].DeliveryCount.Should().Be(2);
    }

    [Fact]
    public async Task Enqueue_ManyConcurrentSinglePublishes_AreAllCommitted()
    {
        var store = Open<ConformanceMessage>();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await store.EnqueueAsync(new(new(p * 100 + i), $"p{p}-{i}"));
            }
        }))).WaitAsync(s_patience);

        (await store.GetStatisticsAsync()).Ready.Should().Be(800);
    }

    [Fact]
    public async Task Receive_PublishedByAnotherStoreOnTheFile_WakesWithinThePollInterval()
    {
        var options = _database.Options();
        options.PollInterval = TimeSpan.FromMilliseconds(50);
        var consumer = SqliteMessageStore.Create<ConformanceMessage>("queue", options);
        _stores.Add(consumer);
        var producer = SqliteMessageStore.Create<ConformanceMessage>("queue", options);
        _stores.Add(producer);

        var buffer = new Delivery<ConformanceMessage>[1];
        var receive = consumer.ReceiveAsync(buffer, s_lease).AsTask();
        await producer.EnqueueAsync(new(new(1), "other-process"));

        (await receive.WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("other-process");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        _database.Dispose();
    }

    [Fact]
    public async Task Enqueue_ABodyThatSerializesToNoBytes_IsStoredAndDelivered()
    {
        var store = SqliteMessageStore.Create("raw", _database.Options(), new Utf8Serializer(), _time);
        _stores.Add(store);

        await store.EnqueueBatchAsync([new Message<string>(""), new Message<string>("x")]);

        var received = await ReceiveAsync(store, 10);
        received.Select(d => d.Message.Body).Should().Equal("", "x");
    }

    private IDurableMessageStore<T> Open<T>(SqliteStoreOptions? options = null, string name = "queue")
    {
        var store = SqliteMessageStore.Create<T>(name, options ?? _database.Options(), timeProvider: _time);
        _stores.Add(store);
        return store;
    }

    private static async Task<Delivery<T>[]> ReceiveAsync<T>(IMessageStore<T> store, int max)
    {
        var buffer = new Delivery<T>[max];
        var received = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        return buffer[..received];
    }

    /// <summary>Stores a string as its UTF-8 bytes, so the empty string is an empty body.</summary>
    /// <summary>A receive that finds only unreadable rows: the statistics after its look, then it is cancelled.</summary>
    private static async Task FailedReadAsync(IMessageStore<ConformanceMessage> store, StoreStatistics expected)
    {
        using var cancellation = new CancellationTokenSource();
        var receive = store.ReceiveAsync(new Delivery<ConformanceMessage>[1], s_lease, cancellation.Token).AsTask();

        // Operations run in submission order, so these statistics follow the receive's look.
        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(expected);
        await cancellation.CancelAsync();
        await FluentActions.Awaiting(() => receive.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
    }

    /// <summary>The JSON serializer, whose reads can be made to fail, as an old reader's would on a new format.</summary>
    private sealed class SwitchableSerializer : IMessageSerializer<ConformanceMessage>
    {
        private readonly JsonMessageSerializer<ConformanceMessage> _json = new();

        public volatile bool FailReads;

        public void Serialize(ConformanceMessage body, System.Buffers.IBufferWriter<byte> destination) => _json.Serialize(body, destination);

        public ConformanceMessage Deserialize(ReadOnlySpan<byte> payload) =>
            FailReads ? throw new MessageSerializationException("An unknown format.") : _json.Deserialize(payload);
    }

    /// <summary>A serializer whose reads fail quoting the body, as many serializers' messages do.</summary>
    private sealed class QuotingSerializer : IMessageSerializer<string>
    {
        public void Serialize(string body, System.Buffers.IBufferWriter<byte> destination) =>
            System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, body, destination);

        public string Deserialize(ReadOnlySpan<byte> payload) =>
            throw new MessageSerializationException($"Unexpected value '{System.Text.Encoding.UTF8.GetString(payload)}'.");
    }

    private sealed class Utf8Serializer : IMessageSerializer<string>
    {
        public void Serialize(string body, System.Buffers.IBufferWriter<byte> destination) =>
            System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, body, destination);

        public string Deserialize(ReadOnlySpan<byte> payload) => System.Text.Encoding.UTF8.GetString(payload);
    }
}
