using System.Buffers;
using MessagingPatterns.Serialization;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// A body this reader cannot deserialize is hidden for a lease, as if a reader had failed it, and dead-lettered
/// (with its raw bytes) only after <see cref="PostgreSqlStoreOptions.MaxFailedReads"/> failed reads, so a rolling
/// deploy that briefly runs an old reader beside a new writer does not dead-letter the new format.
/// </summary>
public sealed class UnreadableMessageTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task AnUnreadableBody_IsDeadLetteredOnlyAfterTheConfiguredFailedReads_AndAReaderThatLearnsItDeliversIt()
    {
        var serializer = new SwitchableSerializer { FailReads = true };
        var options = Schema.Options(PostgreSqlClock.Process);
        options.MaxFailedReads = 3;
        var store = Track(PostgreSqlMessageStore.Create("rolling", options, serializer, _time));
        await store.EnqueueBatchAsync([new Message<int>(1, "new-format"), new Message<int>(2, "later")]);

        // Two failed reads: both rows are hidden for a lease each time and stay queued.
        for (var read = 1; read <= 2; read++)
        {
            await FailedReadAsync(store, new StoreStatistics(0, 2, 0, 0));
            _time.Advance(s_lease + TimeSpan.FromSeconds(1));
        }

        // The new reader is deployed: the first message is delivered, its failed reads not counted as deliveries.
        serializer.FailReads = false;
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("new-format");
        buffer[0].DeliveryCount.Should().Be(1);
        (await store.AckAsync(buffer[0].Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();

        // The other one fails a third time (an old reader again): now it is dead-lettered, with its bytes.
        serializer.FailReads = true;
        await FailedReadAsync(store, new StoreStatistics(0, 0, 0, 1));
        var deadLetter = (await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10)).Items.Should().ContainSingle().Subject;
        deadLetter.MessageId.Should().Be("later");
        deadLetter.Message.Should().BeNull();
        deadLetter.RawBody.Should().NotBeNull();
        deadLetter.Reason.Should().Contain("3 reads failed");
    }

    [SkippableFact]
    public async Task WithOneReadAllowed_AnUnreadableBody_IsDeadLetteredAtTheFirstRead()
    {
        var options = Schema.Options(PostgreSqlClock.Process);
        options.MaxFailedReads = 1;
        var store = Track(PostgreSqlMessageStore.Create("strict", options, new SwitchableSerializer { FailReads = true }, _time));
        await store.EnqueueAsync(new Message<int>(1, "bad"));

        await FailedReadAsync(store, new StoreStatistics(0, 0, 0, 1));

        var deadLetter = (await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10)).Items.Should().ContainSingle().Subject;
        deadLetter.Reason.Should().Contain("could not be deserialized").And.Contain("1 reads failed");
        deadLetter.DeliveryCount.Should().Be(1);
    }

    [SkippableFact]
    public async Task WithRedact_AnUnreadableBodyQuotedByTheSerializer_IsKeptOutOfTheReasonAndTheLogs()
    {
        const string Email = "alice@example.com";
        var logger = new ListLogger();
        var options = Schema.Options(PostgreSqlClock.Process);
        options.MaxFailedReads = 1;
        options.Redact = text => text.Replace(Email, "[email]", StringComparison.Ordinal);
        var store = Track(PostgreSqlMessageStore.Create("redacted", options, new QuotingSerializer(), _time, logger));
        await store.EnqueueAsync(new Message<int>(7, "personal")).AsTask().WaitAsync(s_patience);

        await FailedReadAsync(store, new StoreStatistics(0, 0, 0, 1));

        var deadLetter = (await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 10).AsTask().WaitAsync(s_patience)).Items.Should().ContainSingle().Subject;
        deadLetter.Reason.Should().Contain("could not be deserialized").And.Contain("[email]").And.NotContain(Email);
        logger.Lines.Should().Contain(line => line.Contains(nameof(MessageSerializationException), StringComparison.Ordinal) && line.Contains("[email]", StringComparison.Ordinal));
        logger.Lines.Should().NotContain(line => line.Contains(Email, StringComparison.Ordinal));
    }

    [Fact]
    public void Options_WithMaxFailedReadsOutOfRange_FailValidationNamingIt()
    {
        var options = new PostgreSqlStoreOptions { ConnectionString = PostgresServer.DefaultConnectionString, MaxFailedReads = 0 };

        var act = () => PostgreSqlMessageStore.Create<int>("orders", options);

        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*MaxFailedReads*");
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

    /// <summary>A receive that finds only unreadable rows: it settles them (hidden or dead-lettered) and waits; the statistics show which.</summary>
    private static async Task FailedReadAsync(IMessageStore<int> store, StoreStatistics expected)
    {
        using var cancellation = new CancellationTokenSource();
        var receive = store.ReceiveAsync(new Delivery<int>[2], s_lease, cancellation.Token).AsTask();
        var deadline = TimeProvider.System.GetTimestamp();
        StoreStatistics seen;
        while ((seen = await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)) != expected
            && TimeProvider.System.GetElapsedTime(deadline) < s_patience)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        seen.Should().Be(expected);
        await cancellation.CancelAsync();
        await FluentActions.Awaiting(() => receive.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
    }

    private IPostgreSqlMessageStore<T> Track<T>(IPostgreSqlMessageStore<T> store)
    {
        _stores.Add(store);
        return store;
    }

    /// <summary>A serializer whose reads fail quoting the message, as many serializers' messages quote what they read.</summary>
    private sealed class QuotingSerializer : IMessageSerializer<int>
    {
        private readonly JsonMessageSerializer<int> _json = new();

        public void Serialize(int body, IBufferWriter<byte> destination) => _json.Serialize(body, destination);

        public int Deserialize(ReadOnlySpan<byte> payload) =>
            throw new MessageSerializationException("No customer alice@example.com for this message.");
    }

    /// <summary>The JSON serializer, whose reads can be made to fail, as an old reader's would on a new format.</summary>
    private sealed class SwitchableSerializer : IMessageSerializer<int>
    {
        private readonly JsonMessageSerializer<int> _json = new();

        public bool FailReads { get; set; }

        public void Serialize(int body, IBufferWriter<byte> destination) => _json.Serialize(body, destination);

        public int Deserialize(ReadOnlySpan<byte> payload) =>
            FailReads ? throw new MessageSerializationException("this reader does not know the format") : _json.Deserialize(payload);
    }
}
