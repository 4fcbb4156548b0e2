using FluentAssertions;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>Settling with old tokens, after disposal, and receives that race publishes and cancellation.</summary>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>Checks <c>StaleToken</c>: after release and re lease, changes nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task StaleToken_AfterReleaseAndReLease_ChangesNothing()
    {
        var store = CreateStore();
        await store.EnqueueAsync(Numbered(1));
        var stale = await ReceiveOneAsync(store);
        (await store.ReleaseAsync(stale.Lease)).Should().BeTrue();
        var current = await ReceiveOneAsync(store);

        (await store.AckAsync(stale.Lease)).Should().BeFalse();
        (await store.ReleaseAsync(stale.Lease)).Should().BeFalse();
        (await store.RenewLeaseAsync(stale.Lease, Lease)).Should().BeFalse();
        (await store.DeadLetterAsync(stale.Lease, "stale")).Should().BeFalse();

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
        current.DeliveryCount.Should().Be(2);
        (await store.AckAsync(current.Lease)).Should().BeTrue();
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>
    /// Checks <c>AckBatch</c>: removes the messages whose leases are held, and answers false, in the order given, for
    /// a stale lease, a lease given twice and a lease no receive issued; a cancelled batch acks nothing.
    /// </summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task AckBatch_RemovesHeldLeases_AndAnswersFalseForStaleRepeatedAndUnknownOnes()
    {
        var store = CreateStore();
        await store.EnqueueBatchAsync([Numbered(1), Numbered(2), Numbered(3)]);
        var stale = await ReceiveOneAsync(store);
        (await store.ReleaseAsync(stale.Lease)).Should().BeTrue();
        var first = await ReceiveOneAsync(store);
        var second = await ReceiveOneAsync(store);
        var kept = await ReceiveOneAsync(store);

        var acked = await store.AckBatchAsync([stale.Lease, first.Lease, second.Lease, first.Lease, default]).AsTask().WaitAsync(Patience);

        acked.Should().Equal(false, true, true, false, false);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 1, 0));
        (await store.AckAsync(second.Lease)).Should().BeFalse("the batch removed it");

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await FluentActions.Awaiting(() => store.AckBatchAsync([kept.Lease], cancelled.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();
        (await store.AckBatchAsync([]).AsTask().WaitAsync(Patience)).Should().BeEmpty();
        (await store.AckBatchAsync([kept.Lease]).AsTask().WaitAsync(Patience)).Should().Equal(true);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>Receive</c>: cancelled while a publish races it, loses nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Receive_CancelledWhileAPublishRacesIt_LosesNothing()
    {
        var store = CreateStore();
        const int Rounds = 40;
        for (var round = 0; round < Rounds; round++)
        {
            using var cancellation = new CancellationTokenSource();
            var buffer = new Delivery<ConformanceMessage>[1];
            var receive = store.ReceiveAsync(buffer, Lease, cancellation.Token).AsTask();
            var publish = Task.Run(() => store.EnqueueAsync(Numbered(round)).AsTask());
            var cancel = Task.Run(cancellation.CancelAsync);
            await Task.WhenAll(publish, cancel).WaitAsync(Patience);

            Delivery<ConformanceMessage> delivery;
            try
            {
                (await receive.WaitAsync(Patience)).Should().Be(1);
                delivery = buffer[0];
            }
            catch (OperationCanceledException)
            {
                // Cancelled before it leased anything: the message is still ready, on its first delivery.
                delivery = await ReceiveOneAsync(store);
            }

            delivery.Message.Id.Should().Be($"m-{round}");
            delivery.DeliveryCount.Should().Be(1, "a cancelled receive leases nothing");
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        }

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Checks <c>Settle</c>: after dispose, throws object disposed.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Settle_AfterDispose_ThrowsObjectDisposed()
    {
        var store = CreateStoreCore("settle-after-dispose", Time);
        await store.EnqueueAsync(Numbered(1));
        var delivery = await ReceiveOneAsync(store);
        await store.DisposeAsync();

        await FluentActions.Awaiting(() => store.AckAsync(delivery.Lease).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.ReleaseAsync(delivery.Lease).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.RenewLeaseAsync(delivery.Lease, Lease).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.DeadLetterAsync(delivery.Lease, "late").AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.BrowseDeadLettersAsync(DeadLetterFilter.All, 1).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.RedriveDeadLettersAsync(DeadLetterFilter.All).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => store.PurgeDeadLettersAsync(DeadLetterFilter.All).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
    }

    /// <summary>Checks <c>Redrive</c>: of duplicate ids, moves each message once.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task Redrive_OfDuplicateIds_MovesEachMessageOnce()
    {
        var store = CreateStore();
        await DeadLetterAsync(store, (Numbered(1), "failed"), (Numbered(2), "failed"));

        (await store.RedriveAsync(["m-1", "m-1", "m-2", "m-1"])).Should().Be(2);

        await StatisticsShouldBeAsync(store, new StoreStatistics(2, 0, 0, 0));
        var redriven = await ReceiveCountAsync(store, 2);
        redriven.Select(d => d.Message.Id).Should().BeEquivalentTo(["m-1", "m-2"]);
        (await store.GetDeadLettersAsync(10)).Should().BeEmpty();
    }
}
