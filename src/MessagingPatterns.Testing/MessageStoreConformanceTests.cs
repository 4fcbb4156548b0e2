using System.Collections.Concurrent;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>
/// The store contract, as tests. A store's test project inherits this class, supplies
/// <see cref="CreateStoreCore"/> and declares its <see cref="Capabilities"/>; the whole suite then runs
/// against that store, skipping (with the reason) the tests of promises the store does not make. Time is a
/// <see cref="FakeTimeProvider"/>, so lease expiry and delays are deterministic.
/// </summary>
/// <remarks>
/// A store that needs a server may throw <see cref="Xunit.SkipException"/> from <see cref="CreateStoreCore"/>
/// when the server is absent (for example through <c>Skip.If</c>): every test then reports skipped.
/// </remarks>
public abstract partial class MessageStoreConformanceTests : IAsyncLifetime
{
    /// <summary>How long any single await in the suite may take before it counts as a hang.</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>The lease the suite asks for.</summary>
    protected static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private readonly List<IMessageStore<ConformanceMessage>> _stores = [];

    /// <summary>
    /// How many messages each producer publishes in the concurrent producers and consumers test. A durable
    /// store, where each of a lone consumer's acks waits for a disk flush, may lower it so the suite stays fast
    /// on a slow disk.
    /// </summary>
    protected virtual int MessagesPerConcurrentProducer => 2_000;

    /// <summary>
    /// How far a server's clock may be from this machine's, for checks that compare a time the server stamped with
    /// this machine's clock (stores that do not follow <see cref="Time"/>). Default 2 seconds: a server on this machine
    /// or one kept in step by NTP.
    /// </summary>
    protected virtual TimeSpan ServerClockSkew => TimeSpan.FromSeconds(2);

    /// <summary>The clock every store under test must use for leases, delays and enqueue times.</summary>
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>What the store promises beyond the contract every store keeps; tests of other promises are skipped.</summary>
    protected abstract StoreCapabilities Capabilities { get; }

    /// <summary>
    /// The store's name in a capabilities table (<see cref="StoreCapabilitiesTable"/>) in
    /// <see cref="CapabilitiesTableDocument"/>; when set, the suite fails unless the document holds the row that
    /// states <see cref="Capabilities"/>. <see langword="null"/> (the default) skips that check.
    /// </summary>
    protected virtual string? CapabilitiesTableRow => null;

    /// <summary>
    /// The Markdown document holding the capabilities table: a path, or a file name looked up in the test's
    /// folder and each folder above it. Default <c>README.md</c>.
    /// </summary>
    protected virtual string CapabilitiesTableDocument => "README.md";

    /// <summary>
    /// Creates a store with the given queue name that reads time from <paramref name="timeProvider"/>: empty
    /// the first time a test asks for a name; for a store declaring <see cref="StoreCapabilities.DurableAcrossReopen"/>,
    /// the same queue again (after the first was disposed) when a test asks for the same name twice.
    /// </summary>
    /// <param name="name">The queue's name, valid for <see cref="QueueNames"/>.</param>
    /// <param name="timeProvider">The clock the store must use.</param>
    /// <returns>The store; the suite disposes it.</returns>
    /// <exception cref="Xunit.SkipException">The store's server is absent (the test reports skipped).</exception>
    protected abstract IMessageStore<ConformanceMessage> CreateStoreCore(string name, TimeProvider timeProvider);

    /// <summary>Moves the store's clock forward. Stores that notice time passing in the background may override this to wait for them.</summary>
    protected virtual Task AdvanceTimeAsync(TimeSpan by)
    {
        Time.Advance(by);
        return Task.CompletedTask;
    }

    /// <summary>Creates the store under test; it is disposed after the test.</summary>
    protected IMessageStore<ConformanceMessage> CreateStore(string name = "conformance")
    {
        var store = CreateStoreCore(name, Time);
        _stores.Add(store);
        return store;
    }

    /// <inheritdoc/>
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc/>
    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>Checks <c>Receive</c>: after enqueue, returns the message with its id priority headers and first delivery.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_AfterEnqueue_ReturnsTheMessageWithItsIdPriorityHeadersAndFirstDelivery()
    {
        var store = CreateStore();
        var headers = new Dictionary<string, string> { ["tenant"] = "acme" };
        var enqueuedAt = Time.GetUtcNow();
        await store.EnqueueAsync(new Message<ConformanceMessage>(new(1, "one"), "id-1", 0, headers));

        // The clock moves between the publish and the receive, so a grant time taken from anything but the clock
        // at the receive (the enqueue time, say) is told apart. A server's clock is bracketed by this machine's.
        var followsTime = Capabilities.FollowsTimeProvider;
        if (followsTime)
        {
            await AdvanceTimeAsync(TimeSpan.FromSeconds(1));
        }

        var before = followsTime ? Time.GetUtcNow() : TimeProvider.System.GetUtcNow() - ServerClockSkew;
        var delivery = await ReceiveOneAsync(store);
        var after = followsTime ? Time.GetUtcNow() : TimeProvider.System.GetUtcNow() + ServerClockSkew;

        delivery.Message.Id.Should().Be("id-1");
        delivery.Message.Body.Should().Be(new ConformanceMessage(1, "one"));
        delivery.Message.Headers.Should().Contain("tenant", "acme");
        delivery.DeliveryCount.Should().Be(1);
        delivery.LeaseGrantedAt.Should().BeOnOrAfter(before, "the lease is granted by the receive").And.BeOnOrBefore(after, "the lease is granted by the receive");
        (delivery.LeaseExpiresAt - delivery.LeaseGrantedAt).Should().BeCloseTo(Lease, TimeSpan.FromMilliseconds(1), "a lease ends one lease duration after it is granted");
        if (followsTime)
        {
            delivery.Message.EnqueuedAt.Should().Be(enqueuedAt);
        }
    }

    /// <summary>Checks <c>Receive</c>: many messages, come in publish order.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_ManyMessages_ComeInPublishOrder()
    {
        var store = CreateStore();
        for (var i = 0; i < 50; i++)
        {
            await store.EnqueueAsync(Numbered(i));
        }

        var numbers = new List<int>();
        while (numbers.Count < 50)
        {
            foreach (var delivery in await ReceiveAsync(store, 7))
            {
                numbers.Add(delivery.Message.Body.Number);
                (await store.AckAsync(delivery.Lease)).Should().BeTrue();
            }
        }

        numbers.Should().Equal(Enumerable.Range(0, 50));
    }

    /// <summary>Checks <c>EnqueueBatch</c>: then receive batch, returns up to the buffer length.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task EnqueueBatch_ThenReceiveBatch_ReturnsUpToTheBufferLength()
    {
        var store = CreateStore();
        await store.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(Numbered).ToArray());

        if (!Capabilities.ReceivesEveryReadyMessage)
        {
            // A receive may return fewer than are ready, never more than its buffer holds, and never loses the order.
            var received = new List<int>();
            while (received.Count < 10)
            {
                var batch = await ReceiveAsync(store, 4);
                batch.Length.Should().BeInRange(1, 4);
                received.AddRange(batch.Select(d => d.Message.Body.Number));
            }

            received.Should().Equal(Enumerable.Range(0, 10));
            return;
        }

        var first = await ReceiveAsync(store, 4);
        var rest = await ReceiveAsync(store, 100);

        first.Select(d => d.Message.Body.Number).Should().Equal(0, 1, 2, 3);
        rest.Select(d => d.Message.Body.Number).Should().Equal(4, 5, 6, 7, 8, 9);
    }

    /// <summary>Checks <c>Receive</c>: on empty store, waits until a message is enqueued.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_OnEmptyStore_WaitsUntilAMessageIsEnqueued()
    {
        var store = CreateStore();
        var buffer = new Delivery<ConformanceMessage>[1];

        var receive = store.ReceiveAsync(buffer, Lease).AsTask();
        receive.IsCompleted.Should().BeFalse();
        await store.EnqueueAsync(Numbered(7));

        (await receive.WaitAsync(Patience)).Should().Be(1);
        buffer[0].Message.Body.Number.Should().Be(7);
    }

    /// <summary>Checks <c>Receive</c>: cancelled while waiting, leases nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_CancelledWhileWaiting_LeasesNothing()
    {
        var store = CreateStore();
        using var cancellation = new CancellationTokenSource();
        var receive = store.ReceiveAsync(new Delivery<ConformanceMessage>[1], Lease, cancellation.Token).AsTask();

        await cancellation.CancelAsync();
        await FluentActions.Awaiting(() => receive.WaitAsync(Patience)).Should().ThrowAsync<OperationCanceledException>();
        await store.EnqueueAsync(Numbered(1));

        var delivery = await ReceiveOneAsync(store);
        delivery.DeliveryCount.Should().Be(1);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
    }

    /// <summary>Checks <c>Receive</c>: with already cancelled token, throws and leases nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_WithAlreadyCancelledToken_ThrowsAndLeasesNothing()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));

        var act = () => store.ReceiveAsync(new Delivery<ConformanceMessage>[1], Lease, new CancellationToken(true)).AsTask();

        await act.Should().ThrowAsync<OperationCanceledException>();
        await StatisticsShouldBeAsync(store, new StoreStatistics(1, 0, 0, 0));
    }

    /// <summary>Checks <c>Enqueue</c>: with already cancelled token, throws and stores nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Enqueue_WithAlreadyCancelledToken_ThrowsAndStoresNothing()
    {
        var store = CreateStore();

        var single = () => store.EnqueueAsync(Numbered(1), new CancellationToken(true)).AsTask();
        var batch = () => store.EnqueueBatchAsync([Numbered(2)], new CancellationToken(true)).AsTask();

        await single.Should().ThrowAsync<OperationCanceledException>();
        await batch.Should().ThrowAsync<OperationCanceledException>();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>LeasedMessage</c>: is invisible to other receivers.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task LeasedMessage_IsInvisibleToOtherReceivers()
    {
        var store = CreateStore();
        await store.EnqueueBatchAsync([Numbered(1), Numbered(2)]);

        var first = await ReceiveOneAsync(store);
        var second = await ReceiveOneAsync(store);

        first.Message.Id.Should().NotBe(second.Message.Id);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 2, 0));
    }

    /// <summary>Checks <c>ExpiredLease</c>: redelivers the message with a higher delivery count.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task ExpiredLease_RedeliversTheMessageWithAHigherDeliveryCount()
    {
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var first = await ReceiveOneAsync(store);

        await AdvanceTimeAsync(Lease + PastDue);
        var second = await ReceiveOneAsync(store);

        second.Message.Id.Should().Be(first.Message.Id);
        second.DeliveryCount.Should().Be(2);
        second.Lease.Should().NotBe(first.Lease);
    }

    /// <summary>Checks <c>StaleAck</c>: after redelivery, returns false and keeps the redelivered copy.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task StaleAck_AfterRedelivery_ReturnsFalseAndKeepsTheRedeliveredCopy()
    {
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var stale = await ReceiveOneAsync(store);
        await AdvanceTimeAsync(Lease + PastDue);
        var current = await ReceiveOneAsync(store);

        (await store.AckAsync(stale.Lease)).Should().BeFalse();
        (await store.ReleaseAsync(stale.Lease)).Should().BeFalse();
        (await store.RenewLeaseAsync(stale.Lease, Lease)).Should().BeFalse();
        (await store.DeadLetterAsync(stale.Lease, "stale")).Should().BeFalse();

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
        (await store.AckAsync(current.Lease)).Should().BeTrue();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>Ack</c>: removes the message, and a second ack returns false.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Ack_RemovesTheMessage_AndASecondAckReturnsFalse()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var delivery = await ReceiveOneAsync(store);

        (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        (await store.AckAsync(delivery.Lease)).Should().BeFalse();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>UnknownLease</c>: returns false everywhere.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task UnknownLease_ReturnsFalseEverywhere()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        await ReceiveOneAsync(store);

        (await store.AckAsync(default)).Should().BeFalse();
        (await store.ReleaseAsync(new LeaseToken(12345, 678))).Should().BeFalse();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
    }

    /// <summary>Checks <c>Release</c>: makes the message ready again, with a higher delivery count.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Release_MakesTheMessageReadyAgain_WithAHigherDeliveryCount()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var first = await ReceiveOneAsync(store);

        (await store.ReleaseAsync(first.Lease)).Should().BeTrue();
        var second = await ReceiveOneAsync(store);

        second.Message.Id.Should().Be(first.Message.Id);
        second.DeliveryCount.Should().Be(2);
    }

    /// <summary>Checks <c>ReleaseWithDelay</c>: keeps the message invisible until the delay passes.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task ReleaseWithDelay_KeepsTheMessageInvisibleUntilTheDelayPasses()
    {
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var first = await ReceiveOneAsync(store);

        (await store.ReleaseAsync(first.Lease, TimeSpan.FromSeconds(10))).Should().BeTrue();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 1, 0, 0));
        var buffer = new Delivery<ConformanceMessage>[1];
        var receive = store.ReceiveAsync(buffer, Lease).AsTask();
        receive.IsCompleted.Should().BeFalse();

        await AdvanceTimeAsync(TimeSpan.FromSeconds(10) + PastDue);

        (await receive.WaitAsync(Patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be(first.Message.Id);
        buffer[0].DeliveryCount.Should().Be(2);
    }

    /// <summary>Checks <c>RenewLease</c>: keeps the message leased past its first expiry.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task RenewLease_KeepsTheMessageLeasedPastItsFirstExpiry()
    {
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var delivery = await ReceiveOneAsync(store);

        await AdvanceTimeAsync(Lease / 2);
        (await store.RenewLeaseAsync(delivery.Lease, Lease)).Should().BeTrue();
        await AdvanceTimeAsync(Lease / 2 + TimeSpan.FromSeconds(1));

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
        (await store.AckAsync(delivery.Lease)).Should().BeTrue();
    }

    /// <summary>Checks <c>DeadLetter</c>: lists the message with its reason, and redrive keeps priority and headers.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task DeadLetter_ListsTheMessageWithItsReason_AndRedriveKeepsPriorityAndHeaders()
    {
        var store = CreateStore();
        var headers = new Dictionary<string, string> { ["trace"] = "t-1" };
        await store.EnqueueAsync(new Message<ConformanceMessage>(new(1), "poison", 0, headers));
        var delivery = await ReceiveOneAsync(store);

        (await store.DeadLetterAsync(delivery.Lease, "System.FormatException: bad")).Should().BeTrue();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 1));

        var deadLetters = await store.GetDeadLettersAsync(10);
        deadLetters.Should().ContainSingle();
        deadLetters[0].MessageId.Should().Be("poison");
        deadLetters[0].Reason.Should().Be("System.FormatException: bad");
        deadLetters[0].DeliveryCount.Should().Be(1);

        (await store.RedriveAsync(["poison"])).Should().Be(1);
        (await store.RedriveAsync(["poison"])).Should().Be(0, "a redrive is idempotent");

        var redriven = await ReceiveOneAsync(store);
        redriven.Message.Id.Should().Be("poison");
        redriven.Message.Headers.Should().Contain("trace", "t-1");
        redriven.DeliveryCount.Should().Be(1, "a redriven message starts with a fresh delivery count");
        (await store.GetDeadLettersAsync(10)).Should().BeEmpty();
    }

    /// <summary>Checks <c>Redrive</c>: of unknown ids, moves nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Redrive_OfUnknownIds_MovesNothing()
    {
        var store = CreateStore();

        (await store.RedriveAsync(["nope"])).Should().Be(0);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>BadInput</c>: is rejected with the parameter named, and loses nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task BadInput_IsRejectedWithTheParameterNamed_AndLosesNothing()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));

        await FluentActions.Awaiting(() => store.EnqueueAsync(null!).AsTask())
            .Should().ThrowAsync<ArgumentNullException>().WithParameterName("message");
        await FluentActions.Awaiting(() => store.EnqueueBatchAsync(null!).AsTask())
            .Should().ThrowAsync<ArgumentNullException>().WithParameterName("messages");
        await FluentActions.Awaiting(() => store.EnqueueBatchAsync([Numbered(2), null!]).AsTask())
            .Should().ThrowAsync<ArgumentNullException>().WithParameterName("messages");
        await FluentActions.Awaiting(() => store.ReceiveAsync(Memory<Delivery<ConformanceMessage>>.Empty, Lease).AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("buffer");
        await FluentActions.Awaiting(() => store.ReceiveAsync(new Delivery<ConformanceMessage>[1], TimeSpan.Zero).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("leaseDuration");

        var delivery = await ReceiveOneAsync(store);
        await FluentActions.Awaiting(() => store.ReleaseAsync(delivery.Lease, TimeSpan.FromSeconds(-1)).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("delay");
        await FluentActions.Awaiting(() => store.DeadLetterAsync(delivery.Lease, " ").AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("reason");
        await FluentActions.Awaiting(() => store.RenewLeaseAsync(delivery.Lease, TimeSpan.Zero).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("leaseDuration");
        await FluentActions.Awaiting(() => store.GetDeadLettersAsync(0).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("maxCount");

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
        (await store.AckAsync(delivery.Lease)).Should().BeTrue();
    }

    /// <summary>Checks <c>Dispose</c>: fails a waiting receive, and later calls throw object disposed.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Dispose_FailsAWaitingReceive_AndLaterCallsThrowObjectDisposed()
    {
        var store = CreateStoreCore("disposed", Time);
        var receive = store.ReceiveAsync(new Delivery<ConformanceMessage>[1], Lease).AsTask();

        await store.DisposeAsync();

        await FluentActions.Awaiting(() => receive.WaitAsync(Patience)).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.EnqueueAsync(Numbered(1)).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.ReceiveAsync(new Delivery<ConformanceMessage>[1], Lease).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.GetStatisticsAsync().AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await store.DisposeAsync();
    }

    /// <summary>Checks <c>ConcurrentProducersAndConsumers</c>: deliver every message exactly once.</summary>
    /// <param name="producers">How many producers run at once.</param>
    /// <param name="consumers">How many consumers run at once.</param>
    /// <returns>The test's completion.</returns>
    [SkippableTheory]
    [InlineData(1, 1)]
    [InlineData(1, 4)]
    [InlineData(4, 1)]
    [InlineData(4, 4)]
    public async Task ConcurrentProducersAndConsumers_DeliverEveryMessageExactlyOnce(int producers, int consumers)
    {
        var perProducer = MessagesPerConcurrentProducer;
        var store = CreateStore();
        var total = producers * perProducer;
        var seen = new ConcurrentDictionary<string, int>();
        var acked = 0;
        using var done = new CancellationTokenSource();

        var consuming = Enumerable.Range(0, consumers).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<ConformanceMessage>[16];
            while (true)
            {
                int received;
                try
                {
                    received = await store.ReceiveAsync(buffer, Lease, done.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                for (var i = 0; i < received; i++)
                {
                    seen.AddOrUpdate(buffer[i].Message.Id, 1, (_, n) => n + 1);
                    (await store.AckAsync(buffer[i].Lease)).Should().BeTrue();
                    if (Interlocked.Increment(ref acked) == total)
                    {
                        await done.CancelAsync();
                    }
                }
            }
        })).ToArray();

        var publishedIds = new ConcurrentBag<string>();
        var producing = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                var message = new Message<ConformanceMessage>(new(p * perProducer + i), $"p{p}-{i}");
                if (i % 3 == 0)
                {
                    await store.EnqueueBatchAsync([message]);
                }
                else
                {
                    await store.EnqueueAsync(message);
                }

                publishedIds.Add(message.Id);
            }
        })).ToArray();

        await Task.WhenAll(producing).WaitAsync(Patience * 3);
        await Task.WhenAll(consuming).WaitAsync(Patience * 3);

        // Sorted comparison: equivalence on thousands of items is quadratic.
        seen.Keys.Order(StringComparer.Ordinal).Should().Equal(publishedIds.Order(StringComparer.Ordinal), "nothing is lost");
        seen.Values.Should().AllSatisfy(count => count.Should().Be(1, "without faults nothing is delivered twice"));
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>A message with a number as body and a readable id.</summary>
    protected static Message<ConformanceMessage> Numbered(int number) => new(new ConformanceMessage(number), $"m-{number}");

    /// <summary>Receives exactly one message, failing the test if none comes in time.</summary>
    protected static async Task<Delivery<ConformanceMessage>> ReceiveOneAsync(IMessageStore<ConformanceMessage> store)
    {
        var buffer = new Delivery<ConformanceMessage>[1];
        (await store.ReceiveAsync(buffer, Lease).AsTask().WaitAsync(Patience)).Should().Be(1);
        return buffer[0];
    }

    /// <summary>Receives up to <paramref name="max"/> messages, failing the test if none comes in time.</summary>
    protected static async Task<Delivery<ConformanceMessage>[]> ReceiveAsync(IMessageStore<ConformanceMessage> store, int max)
    {
        var buffer = new Delivery<ConformanceMessage>[max];
        var received = await store.ReceiveAsync(buffer, Lease).AsTask().WaitAsync(Patience);
        return buffer[..received];
    }

    /// <summary>
    /// Receives until <paramref name="count"/> messages came, for a store whose receive may return fewer than are
    /// ready (<see cref="StoreCapabilities.ReceivesEveryReadyMessage"/>), failing the test if one does not come in time.
    /// </summary>
    private static async Task<List<Delivery<ConformanceMessage>>> ReceiveCountAsync(IMessageStore<ConformanceMessage> store, int count)
    {
        var received = new List<Delivery<ConformanceMessage>>(count);
        while (received.Count < count)
        {
            received.AddRange(await ReceiveAsync(store, count - received.Count));
        }

        return received;
    }

    /// <summary>
    /// Asserts the store's statistics, for a store that declares <see cref="StoreCapabilities.ExactStatistics"/>;
    /// for one that does not, asserts nothing (its counts are estimates).
    /// </summary>
    protected async Task StatisticsShouldBeAsync(IMessageStore<ConformanceMessage> store, StoreStatistics expected)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (Capabilities.ExactStatistics)
        {
            (await store.GetStatisticsAsync().AsTask().WaitAsync(Patience)).Should().Be(expected);
        }
    }

    /// <summary>Skips the test unless the store's leases and delays follow the fake clock.</summary>
    protected void SkipUnlessTimeIsFake() =>
        Skip.IfNot(Capabilities.FollowsTimeProvider, "The store reads a server's clock, so lease expiry and delays cannot be driven by a fake clock.");

    /// <summary>How far past a due time the clock moves for the store to see it: a second plus the store's <see cref="StoreCapabilities.DelayPrecision"/>.</summary>
    protected TimeSpan PastDue => TimeSpan.FromSeconds(1) + Capabilities.DelayPrecision;
}
