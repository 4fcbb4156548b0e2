using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace MessagingPatterns.RabbitMQ.Tests;

public sealed class RabbitMqQueueStoreTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task Publish_ToAQueueDeletedUnderneath_ThrowsInsteadOfDroppingTheMessage()
    {
        await using var scope = new StoreScope("unroutable");
        var store = scope.Create();
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1))).AsTask().WaitAsync(s_patience);
        await RabbitMqBroker.DeleteQueuesAsync(scope.Name);

        var publish = () => store.EnqueueAsync(new Message<TestMessage>(new TestMessage(2))).AsTask().WaitAsync(s_patience);

        (await publish.Should().ThrowAsync<PublishException>()).Which.IsReturn.Should().BeTrue();
    }

    [SkippableFact]
    public async Task Receive_TakesAHighPriorityMessageBeforeLowerOnesAlreadySentAhead()
    {
        await using var scope = new StoreScope("priority");
        var store = scope.Create(prefetch: 64);
        for (var i = 0; i < 10; i++)
        {
            await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(i), priority: 0));
        }

        var first = await ReceiveAsync(store, 1);
        await WaitForBufferedAsync(store, ready: 9);
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(100), priority: 5));
        await WaitForBufferedAsync(store, ready: 10);

        var next = await ReceiveAsync(store, 1);

        first[0].Message.Body.Number.Should().Be(0);
        next[0].Message.Body.Number.Should().Be(100, "the local buffer is ordered by priority, not by arrival");
        next[0].Message.Priority.Should().Be(5);
    }

    [SkippableFact]
    public async Task Batch_OnAStoreNotYetConnected_ReachesTheQueueInItsOrder()
    {
        await using var scope = new StoreScope("batchorder");
        var store = scope.Create();
        var ids = Enumerable.Range(1, 50).Select(i => $"m-{i}").ToArray();

        await store.EnqueueBatchAsync([.. ids.Select((id, i) => new Message<TestMessage>(new TestMessage(i), id))]).AsTask().WaitAsync(s_patience);
        var all = await ReceiveAllAsync(store, ids.Length);

        all.Select(d => d.Message.Id).Should().Equal(ids, "messages of one level are delivered in the order they were published");
    }

    [SkippableFact]
    public async Task BadInput_IsRejectedBeforeAnythingIsSent_NamingTheParameter()
    {
        await using var scope = new StoreScope("badinput");
        var store = scope.Create(maxPriority: 3);

        await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), priority: 4)).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("message");
        await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), headers: new Dictionary<string, string> { ["mp.id"] = "x" })).AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("message");
        await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1, new string('x', RabbitMqStoreOptions.DefaultMaxMessageBytes)))).AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("message");

        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public void Options_WithoutAUri_OrWithAnotherScheme_FailNamingTheOption_WithoutQuotingTheUri()
    {
        var missing = () => RabbitMqMessageStore.Create<TestMessage>("q", new RabbitMqStoreOptions());
        var wrongScheme = () => RabbitMqMessageStore.Create<TestMessage>("q", new RabbitMqStoreOptions { ConnectionUri = "http://user:hunter2@host/" });
        var badPrefetch = () => RabbitMqMessageStore.Create<TestMessage>("q", new RabbitMqStoreOptions { ConnectionUri = "amqp://h/", PrefetchCount = 0 });

        missing.Should().Throw<OptionsValidationException>().WithMessage("*ConnectionUri*");
        wrongScheme.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("ConnectionUri").And.NotContain("hunter2");
        badPrefetch.Should().Throw<OptionsValidationException>().WithMessage("*PrefetchCount*");
    }

    [SkippableFact]
    public async Task WrongPassword_NeverAppearsInTheExceptionOrTheLogs()
    {
        RabbitMqBroker.RequireOrSkip();
        const string Password = "s3cr3t-Pa55word";
        var broker = new Uri(RabbitMqBroker.Uri);
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var options = new RabbitMqStoreOptions { ConnectionUri = $"amqp://guest:{Password}@{broker.Host}:{broker.Port}/" };
        await using var store = RabbitMqMessageStore.Create<TestMessage>(RabbitMqBroker.UniqueName("secret"), options, loggerFactory: loggerFactory);

        var failure = await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1))).AsTask().WaitAsync(s_patience))
            .Should().ThrowAsync<Exception>();

        failure.Which.ToString().Should().NotContain(Password);
        logs.Lines.Should().NotContain(line => line.Contains(Password, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task WrongPasswordHoldingAColon_NeverAppearsInTheExceptionOrTheLogs()
    {
        RabbitMqBroker.RequireOrSkip();
        const string Password = "pa:ss-s3cr3t";
        var broker = new Uri(RabbitMqBroker.Uri);
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var options = new RabbitMqStoreOptions { ConnectionUri = $"amqp://guest:{Password}@{broker.Host}:{broker.Port}/" };

        var failure = await FluentActions.Awaiting(async () =>
            {
                await using var store = RabbitMqMessageStore.Create<TestMessage>(RabbitMqBroker.UniqueName("secret"), options, loggerFactory: loggerFactory);
                await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1))).AsTask().WaitAsync(s_patience);
            })
            .Should().ThrowAsync<Exception>();

        failure.Which.ToString().Should().NotContain("s3cr3t");
        logs.Lines.Should().NotContain(line => line.Contains("s3cr3t", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task ConsumerThatDiesEveryTime_CountsEachLostLease_SoThePoisonMessageCanReachTheDeadLetterQueue()
    {
        await using var scope = new StoreScope("crashloop");
        var producer = scope.Create();
        await producer.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "poison"));

        var counts = new List<int>();
        for (var crash = 0; crash < 3; crash++)
        {
            // A consumer process that takes the message and dies: its connection closes without a settle.
            var consumer = scope.Create();
            var delivery = await ReceiveAsync(consumer, 1);
            counts.Add(delivery[0].DeliveryCount);
            await consumer.DisposeAsync();
        }

        var survivor = scope.Create();
        var last = await ReceiveAsync(survivor, 1);
        counts.Add(last[0].DeliveryCount);

        counts.Should().Equal(1, 2, 3, 4);
        last[0].Message.Id.Should().Be("poison");
    }

    [SkippableFact]
    public async Task Reopen_KeepsReadyAndDeadLettered_ReturnsTheInFlightOneAtOnceCounted_AndLeavesUnleasedCountsAlone()
    {
        await using var scope = new StoreScope("reopen");
        var first = scope.Create();
        await first.EnqueueBatchAsync([new Message<TestMessage>(new TestMessage(1), "m-1"), new Message<TestMessage>(new TestMessage(2), "m-2"), new Message<TestMessage>(new TestMessage(3), "m-3")]);
        var leased = await ReceiveAsync(first, 1);
        var poison = await ReceiveAsync(first, 1);
        (await first.DeadLetterAsync(poison[0].Lease, "poison")).Should().BeTrue();
        await WaitForStatisticsAsync(first, s => s.Ready == 1);
        await first.DisposeAsync();

        var reopened = scope.Create();
        var all = await ReceiveAllAsync(reopened, 2);

        (await reopened.AckAsync(leased[0].Lease)).Should().BeFalse("a lease does not outlive the store that granted it");
        all.Select(d => (d.Message.Id, d.DeliveryCount)).Should().BeEquivalentTo(new[] { ("m-1", 2), ("m-3", 1) }, "m-3 was only sent ahead, never leased");
        (await reopened.GetDeadLettersAsync(10)).Select(d => (d.MessageId, d.Reason)).Should().Equal(("m-2", "poison"));
    }

    [SkippableFact]
    public async Task UnreadableBody_IsDeadLetteredWithTheReason_AndTheQueueFlowsOn()
    {
        await using var scope = new StoreScope("unreadable");
        var store = scope.Create();
        await store.GetStatisticsAsync(); // declares the queues
        await PublishRawAsync(scope.Name, Encoding.UTF8.GetBytes("{not json"));
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(7)));

        var delivery = await ReceiveAsync(store, 1);
        (await store.AckAsync(delivery[0].Lease)).Should().BeTrue();

        delivery[0].Message.Body.Number.Should().Be(7);
        (await WaitForStatisticsAsync(store, s => s.DeadLettered == 1)).Should().Be(new StoreStatistics(0, 0, 0, 1));
        var entry = (await store.GetDeadLettersAsync(10)).Should().ContainSingle().Subject;
        entry.Message.Should().BeNull();
        entry.RawBody!.Value.ToArray().Should().Equal(Encoding.UTF8.GetBytes("{not json"));
        entry.Reason.Should().Contain("MessageSerializationException");
    }

    [SkippableFact]
    public async Task UnreadableBody_WithRedact_HasItsReasonAndLoggedExceptionRewrittenByTheHook()
    {
        // The serializer's message quotes what it failed on; here the hook hides its wording, so the test can see it applied.
        const string Quoted = "is not a valid";
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var scope = new StoreScope("redacted");
        var store = scope.Create(loggerFactory: loggerFactory, redact: text => text.Replace(Quoted, "[redacted]", StringComparison.Ordinal));
        await store.GetStatisticsAsync(); // declares the queues
        await PublishRawAsync(scope.Name, Encoding.UTF8.GetBytes("{not json"));
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(7)));

        var delivery = await ReceiveAsync(store, 1);
        (await store.AckAsync(delivery[0].Lease)).Should().BeTrue();
        await WaitForStatisticsAsync(store, s => s.DeadLettered == 1);

        var entry = (await store.GetDeadLettersAsync(10)).Should().ContainSingle().Subject;
        entry.Reason.Should().Contain("MessageSerializationException").And.Contain("[redacted]").And.NotContain(Quoted);
        logs.Lines.Should().Contain(line => line.Contains("MessageSerializationException", StringComparison.Ordinal) && line.Contains("[redacted]", StringComparison.Ordinal));
        logs.Lines.Should().NotContain(line => line.Contains(Quoted, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task DeadLetterBrowse_LeavesEveryEntryInPlaceAndInOrder_AndRedriveMovesOnlyTheNamedOnes()
    {
        await using var scope = new StoreScope("browse");
        var store = scope.Create();
        for (var i = 0; i < 5; i++)
        {
            await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(i), $"d-{i}"));
        }

        foreach (var delivery in await ReceiveAllAsync(store, 5))
        {
            (await store.DeadLetterAsync(delivery.Lease, $"reason {delivery.Message.Id}")).Should().BeTrue();
        }

        var first = await store.GetDeadLettersAsync(3);
        var all = await store.GetDeadLettersAsync(10);
        var moved = await store.RedriveAsync(["d-1", "d-3", "unknown"]);
        var left = await store.GetDeadLettersAsync(10);

        first.Select(d => d.MessageId).Should().Equal("d-0", "d-1", "d-2");
        all.Select(d => d.MessageId).Should().Equal("d-0", "d-1", "d-2", "d-3", "d-4");
        all[4].Reason.Should().Be("reason d-4");
        moved.Should().Be(2);
        left.Select(d => d.MessageId).Should().Equal("d-0", "d-2", "d-4");
        (await ReceiveAllAsync(store, 2)).Select(d => d.Message.Id).Should().BeEquivalentTo("d-1", "d-3");
    }

    [SkippableFact]
    public async Task AddRabbitMqQueue_RegistersAWorkingDurableQueue_AndValidatesOptionsAtStart()
    {
        await using var scope = new StoreScope("di");
        var services = new ServiceCollection();
        services.AddRabbitMqQueue<TestMessage>(scope.Name, options => options.ConnectionUri = RabbitMqBroker.Uri);
        await using var provider = services.BuildServiceProvider();

        var producer = provider.GetRequiredService<IProducer<TestMessage>>();
        var store = provider.GetRequiredService<IMessageStore<TestMessage>>();
        await producer.PublishAsync(new TestMessage(5)).AsTask().WaitAsync(s_patience);
        var delivery = await ReceiveAsync(store, 1);

        store.Should().BeAssignableTo<IDurableMessageStore<TestMessage>>();
        delivery[0].Message.Body.Number.Should().Be(5);
        (await store.AckAsync(delivery[0].Lease)).Should().BeTrue();

        var invalid = new ServiceCollection();
        invalid.AddRabbitMqQueue<TestMessage>("bad", options => options.PrefetchCount = 0);
        await using var invalidProvider = invalid.BuildServiceProvider();
        var resolve = () => invalidProvider.GetRequiredService<IOptionsMonitor<RabbitMqStoreOptions>>().Get("bad");
        resolve.Should().Throw<OptionsValidationException>().WithMessage("*ConnectionUri*").And.Message.Should().Contain("PrefetchCount");
    }

    internal static async Task<Delivery<TestMessage>[]> ReceiveAsync(IMessageStore<TestMessage> store, int max)
    {
        var buffer = new Delivery<TestMessage>[max];
        var count = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        return buffer[..count];
    }

    internal static async Task<List<Delivery<TestMessage>>> ReceiveAllAsync(IMessageStore<TestMessage> store, int count)
    {
        var all = new List<Delivery<TestMessage>>();
        while (all.Count < count)
        {
            all.AddRange(await ReceiveAsync(store, count - all.Count));
        }

        return all;
    }

    private static async Task WaitForBufferedAsync(IMessageStore<TestMessage> store, int ready) =>
        await WaitForStatisticsAsync(store, s => s.Ready == ready);

    private static async Task<StoreStatistics> WaitForStatisticsAsync(IMessageStore<TestMessage> store, Func<StoreStatistics, bool> done)
    {
        var deadline = DateTime.UtcNow + s_patience;
        while (true)
        {
            var statistics = await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience);
            if (done(statistics) || DateTime.UtcNow > deadline)
            {
                return statistics;
            }

            await Task.Delay(20);
        }
    }

    private static async Task PublishRawAsync(string queue, byte[] body)
    {
        var factory = new ConnectionFactory { Uri = new Uri(RabbitMqBroker.Uri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, body);
    }
}
