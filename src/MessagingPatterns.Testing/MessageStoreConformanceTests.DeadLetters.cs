using System.Collections.Concurrent;
using FluentAssertions;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>The dead-letter tooling: browse with paging and filters, purge, and redrive by filter.</summary>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>Checks <c>BrowseDeadLetters</c>: pages with a continuation, oldest first.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task BrowseDeadLetters_PagesWithAContinuation_OldestFirst()
    {
        var store = CreateStore();
        await DeadLetterAsync(store, Enumerable.Range(1, 5).Select(n => (Numbered(n), $"reason {n}")).ToArray());

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 2, token).AsTask().WaitAsync(Patience);
            page.Items.Count.Should().BeInRange(1, 2);
            seen.AddRange(page.Items.Select(d => d.MessageId));
            token = page.ContinuationToken;
            pages++;
        }
        while (token is not null && pages < 10);

        seen.Should().Equal("m-1", "m-2", "m-3", "m-4", "m-5");
        (await store.GetDeadLettersAsync(3)).Select(d => d.MessageId).Should().Equal("m-1", "m-2", "m-3");
    }

    /// <summary>Checks <c>BrowseDeadLetters</c>: filters by reason priority and times.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task BrowseDeadLetters_FiltersByReasonPriorityAndTimes()
    {
        SkipUnlessTimeIsFake();
        var store = CreateStore();
        await DeadLetterAsync(store, (Numbered(1), "System.TimeoutException: slow"), (Numbered(2), "System.FormatException: bad"));
        await AdvanceTimeAsync(TimeSpan.FromMinutes(1));
        var middle = Time.GetUtcNow();
        await DeadLetterAsync(store, (new Message<ConformanceMessage>(new(3), "m-3", 1), "System.TimeoutException: slower"), (Numbered(4), "other"));

        async Task<string[]> IdsAsync(DeadLetterFilter filter) =>
            (await store.BrowseDeadLettersAsync(filter, 100).AsTask().WaitAsync(Patience)).Items.Select(d => d.MessageId).ToArray();

        (await IdsAsync(new DeadLetterFilter { ReasonContains = "Timeout" })).Should().Equal("m-1", "m-3");
        (await IdsAsync(new DeadLetterFilter { ReasonContains = "timeout" })).Should().BeEmpty("the reason filter is case-sensitive");
        (await IdsAsync(new DeadLetterFilter { Priority = 1 })).Should().Equal("m-3");
        (await IdsAsync(new DeadLetterFilter { DeadLetteredFrom = middle })).Should().Equal("m-3", "m-4");
        (await IdsAsync(new DeadLetterFilter { DeadLetteredBefore = middle })).Should().Equal("m-1", "m-2");
        (await IdsAsync(new DeadLetterFilter { EnqueuedFrom = middle, ReasonContains = "Timeout" })).Should().Equal("m-3");
        (await IdsAsync(new DeadLetterFilter { EnqueuedBefore = middle })).Should().Equal("m-1", "m-2");
        (await IdsAsync(new DeadLetterFilter { MessageIds = ["m-4", "m-2", "m-2", "nope"] })).Should().Equal("m-2", "m-4");
    }

    /// <summary>Checks <c>BrowseDeadLetters</c>: continuation stays valid after the page is purged.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task BrowseDeadLetters_ContinuationStaysValidAfterThePageIsPurged()
    {
        var store = CreateStore();
        await DeadLetterAsync(store, Enumerable.Range(1, 4).Select(n => (Numbered(n), "failed")).ToArray());

        var first = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 2);
        (await store.PurgeDeadLettersAsync(new DeadLetterFilter { MessageIds = first.Items.Select(d => d.MessageId).ToArray() })).Should().Be(2);
        var second = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 2, first.ContinuationToken);

        second.Items.Select(d => d.MessageId).Should().Equal("m-3", "m-4");
        second.ContinuationToken.Should().BeNull();
    }

    /// <summary>Checks <c>PurgeDeadLetters</c>: by selected ids or filter, deletes only those and returns the count.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task PurgeDeadLetters_BySelectedIdsOrFilter_DeletesOnlyThoseAndReturnsTheCount()
    {
        var store = CreateStore();
        await DeadLetterAsync(store, (Numbered(1), "a: x"), (Numbered(2), "b: y"), (Numbered(3), "a: z"), (Numbered(4), "c"));

        (await store.PurgeDeadLettersAsync(new DeadLetterFilter { MessageIds = ["m-4", "unknown"] })).Should().Be(1);
        (await store.PurgeDeadLettersAsync(new DeadLetterFilter { ReasonContains = "a:" })).Should().Be(2);
        (await store.PurgeDeadLettersAsync(new DeadLetterFilter { ReasonContains = "a:" })).Should().Be(0);

        (await store.GetDeadLettersAsync(10)).Select(d => d.MessageId).Should().Equal("m-2");
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 1));
    }

    /// <summary>Checks <c>RedriveDeadLetters</c>: by filter, moves only matching in batches, and repeating moves nothing.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task RedriveDeadLetters_ByFilter_MovesOnlyMatchingInBatches_AndRepeatingMovesNothing()
    {
        var store = CreateStore();
        await DeadLetterAsync(store, Enumerable.Range(1, 7).Select(n => (Numbered(n), n % 2 == 1 ? "System.TimeoutException" : "System.FormatException")).ToArray());

        var filter = new DeadLetterFilter { ReasonContains = "Timeout" };
        (await store.RedriveDeadLettersAsync(filter, batchSize: 3).AsTask().WaitAsync(Patience)).Should().Be(4);
        (await store.RedriveDeadLettersAsync(filter, batchSize: 3).AsTask().WaitAsync(Patience)).Should().Be(0, "a redrive is idempotent");

        await StatisticsShouldBeAsync(store, new StoreStatistics(4, 0, 0, 3));
        var redriven = await ReceiveCountAsync(store, 4);
        redriven.Select(d => d.Message.Id).Should().BeEquivalentTo(["m-1", "m-3", "m-5", "m-7"]);
        redriven.Should().OnlyContain(d => d.DeliveryCount == 1);
    }

    /// <summary>Checks <c>DeadLetterTooling</c>: bad input, is rejected with the parameter named.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task DeadLetterTooling_BadInput_IsRejectedWithTheParameterNamed()
    {
        var store = CreateStore();

        await FluentActions.Awaiting(() => store.BrowseDeadLettersAsync(null!, 1).AsTask())
            .Should().ThrowAsync<ArgumentNullException>().WithParameterName("filter");
        await FluentActions.Awaiting(() => store.BrowseDeadLettersAsync(DeadLetterFilter.All, 0).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("pageSize");
        await FluentActions.Awaiting(() => store.BrowseDeadLettersAsync(DeadLetterFilter.All, 1, "not a token").AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("continuationToken");
        await FluentActions.Awaiting(() => store.PurgeDeadLettersAsync(null!).AsTask())
            .Should().ThrowAsync<ArgumentNullException>().WithParameterName("filter");
        await FluentActions.Awaiting(() => store.RedriveDeadLettersAsync(DeadLetterFilter.All, 0).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("batchSize");
    }

    /// <summary>
    /// How many dead letters the redrive-under-load test moves back while consumers run: 10,000. A durable store,
    /// where every dead-letter and ack waits for a disk flush, may lower it so the suite stays fast on a slow disk.
    /// </summary>
    protected virtual int RedriveUnderLoadMessages => 10_000;

    /// <summary>Checks <c>RedriveDeadLetters</c>: 10,000 redriven while consumers run, every message in exactly one place at every observation.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task RedriveDeadLetters_TenThousandWhileConsumersRun_NoMessageIsEverInBothPlacesOrInNeither()
    {
        Skip.IfNot(Capabilities.ExactStatistics, "The store's statistics are estimates, so the observer cannot count both places at once.");
        var total = RedriveUnderLoadMessages;
        var store = CreateStore();
        for (var sent = 0; sent < total; sent += 500)
        {
            await store.EnqueueBatchAsync(Enumerable.Range(sent, Math.Min(500, total - sent)).Select(Numbered).ToArray()).AsTask().WaitAsync(Patience);
            for (var dead = 0; dead < Math.Min(500, total - sent);)
            {
                foreach (var delivery in await ReceiveAsync(store, 100))
                {
                    (await store.DeadLetterAsync(delivery.Lease, "System.TimeoutException: downstream")).Should().BeTrue();
                    dead++;
                }
            }
        }

        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, total));
        var ackStarted = 0;
        var ackCompleted = 0;
        var handled = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var done = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var buffer = new Delivery<ConformanceMessage>[16];
            while (!done.IsCancellationRequested)
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
                    Interlocked.Increment(ref ackStarted);
                    (await store.AckAsync(buffer[i].Lease)).Should().BeTrue();
                    handled.AddOrUpdate(buffer[i].Message.Id, 1, (_, n) => n + 1);
                    if (Interlocked.Increment(ref ackCompleted) == total)
                    {
                        await done.CancelAsync();
                    }
                }
            }
        })).ToArray();

        // On its own thread, so the observer looks while it runs: a store whose redrive completes synchronously would
        // otherwise finish it on this thread before the first look, and if the consumers then finished too before this
        // thread ran again (a loaded machine), the observer would never look at all.
        var redrive = Task.Run(async () => await store.RedriveDeadLettersAsync(DeadLetterFilter.All, batchSize: 100));
        do
        {
            // Acks finished before the look and acks begun after it bracket what the store had removed when it looked.
            var completedBefore = Volatile.Read(ref ackCompleted);
            var handledBefore = handled.Keys.ToHashSet(StringComparer.Ordinal);
            var statistics = await store.GetStatisticsAsync().AsTask().WaitAsync(Patience);
            var startedAfter = Volatile.Read(ref ackStarted);
            var held = statistics.Ready + statistics.Delayed + statistics.InFlight + statistics.DeadLettered;
            held.Should().BeInRange(total - startedAfter, total - completedBefore, "every message is in the queue or in the dead letters, exactly once");

            var page = await store.BrowseDeadLettersAsync(DeadLetterFilter.All, 500).AsTask().WaitAsync(Patience);
            page.Items.Should().NotContain(d => handledBefore.Contains(d.MessageId), "a handled message is not also a dead letter");
        }
        while (!done.IsCancellationRequested);

        (await redrive.WaitAsync(Patience)).Should().Be(total);
        await Task.WhenAll(consumers).WaitAsync(Patience);
        handled.Should().HaveCount(total).And.OnlyContain(pair => pair.Value == 1);
        await StatisticsShouldBeAsync(store, new StoreStatistics(0, 0, 0, 0));
    }

    /// <summary>Publishes each message, receives it and dead-letters it with its reason, in the order given.</summary>
    protected async Task DeadLetterAsync(IMessageStore<ConformanceMessage> store, params (Message<ConformanceMessage> Message, string Reason)[] entries)
    {
        foreach (var (message, reason) in entries)
        {
            await store.EnqueueAsync(message);
            var delivery = await ReceiveOneAsync(store);
            delivery.Message.Id.Should().Be(message.Id);
            (await store.DeadLetterAsync(delivery.Lease, reason)).Should().BeTrue();
        }
    }
}
