using FluentAssertions;
using Xunit;

namespace MessagingPatterns.Testing;

/// <summary>The promises a store declares in its <see cref="StoreCapabilities"/>, each tested only where declared.</summary>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>Checks <c>Capabilities</c>: the document's capabilities table states exactly what the store declares.</summary>
    [SkippableFact]
    public void Capabilities_AreTheOnesTheDocumentsTableStates()
    {
        Skip.If(CapabilitiesTableRow is null, "The store names no row in a capabilities table.");
        var path = FindDocument(CapabilitiesTableDocument);
        var lines = File.ReadAllLines(path);
        var header = Array.IndexOf(lines, StoreCapabilitiesTable.Header[0]);
        header.Should().BeGreaterThanOrEqualTo(0, $"{path} holds the capabilities table");
        var table = lines.Skip(header + StoreCapabilitiesTable.Header.Count).TakeWhile(line => line.StartsWith('|'));
        table.Where(line => line.StartsWith($"| {CapabilitiesTableRow} |", StringComparison.Ordinal))
            .Should().Equal([StoreCapabilitiesTable.Row(CapabilitiesTableRow, Capabilities)], $"{path} must state what the conformance tests hold the store to");
    }

    private static string FindDocument(string document)
    {
        if (Path.IsPathRooted(document))
        {
            return document;
        }

        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, document);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"No {document} in the test's folder or any folder above it.", document);
    }

    /// <summary>Checks <c>PriorityStore</c>: serves higher priorities first, fifo within a level.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task PriorityStore_ServesHigherPrioritiesFirst_FifoWithinALevel()
    {
        var levels = Capabilities.PriorityLevels;
        Skip.If(levels < 2, "The store does not order by priority.");
        var store = CreateStore();
        var top = levels - 1;
        var published = new[] { (0, "low-1"), (top, "top-1"), (1, "mid-1"), (0, "low-2"), (top, "top-2"), (1, "mid-2") };
        foreach (var (priority, id) in published)
        {
            await store.EnqueueAsync(new Message<ConformanceMessage>(new(priority), id, priority));
        }

        var order = new List<string>();
        while (order.Count < published.Length)
        {
            foreach (var delivery in await ReceiveAsync(store, 1))
            {
                order.Add(delivery.Message.Id);
                delivery.Message.Priority.Should().Be(delivery.Message.Body.Number, "the priority is kept");
                (await store.AckAsync(delivery.Lease)).Should().BeTrue();
            }
        }

        var expected = top == 1
            ? new[] { "top-1", "mid-1", "top-2", "mid-2", "low-1", "low-2" }
            : ["top-1", "top-2", "mid-1", "mid-2", "low-1", "low-2"];
        order.Should().Equal(expected);
    }

    /// <summary>Checks <c>BoundedStore</c>: publish waits for room, and an ack lets it in.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task BoundedStore_PublishWaitsForRoom_AndAnAckLetsItIn()
    {
        Skip.IfNot(Capabilities.Capacity is not null, "The store is not bounded.");
        var capacity = Capabilities.Capacity!.Value;
        var store = CreateStore();
        for (var sent = 0; sent < capacity; sent += 100)
        {
            await store.EnqueueBatchAsync(Enumerable.Range(sent, Math.Min(100, capacity - sent)).Select(Numbered).ToArray()).AsTask().WaitAsync(Patience);
        }

        var waiting = store.EnqueueAsync(Numbered(capacity)).AsTask();
        await Task.Delay(50);
        waiting.IsCompleted.Should().BeFalse("the store is full");
        await StatisticsShouldBeAsync(store, new StoreStatistics(capacity, 0, 0, 0));

        var first = await ReceiveOneAsync(store);
        waiting.IsCompleted.Should().BeFalse("a leased message still takes room");
        (await store.AckAsync(first.Lease)).Should().BeTrue();

        await waiting.WaitAsync(Patience);
        await StatisticsShouldBeAsync(store, new StoreStatistics(capacity, 0, 0, 0));
    }

    /// <summary>Checks <c>DurableStore</c>: keeps ready in flight and dead lettered messages across reopen.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task DurableStore_KeepsReadyInFlightAndDeadLetteredMessagesAcrossReopen()
    {
        Skip.IfNot(Capabilities.DurableAcrossReopen, "The store is not durable across reopen.");
        var store = CreateStore("reopened");
        var headers = new Dictionary<string, string> { ["tenant"] = "acme" };
        await store.EnqueueBatchAsync([new Message<ConformanceMessage>(new(1, "one"), "m-1", 0, headers), Numbered(2), Numbered(3)]);
        var leased = await ReceiveOneAsync(store);
        var poison = await ReceiveOneAsync(store);
        (await store.DeadLetterAsync(poison.Lease, "poison")).Should().BeTrue();
        await store.DisposeAsync();

        var reopened = CreateStore("reopened");
        (await reopened.AckAsync(leased.Lease)).Should().BeFalse("a lease does not outlive the store object that granted it");
        (await reopened.GetDeadLettersAsync(10)).Select(d => (d.MessageId, d.Reason)).Should().Equal(("m-2", "poison"));
        var ready = await ReceiveOneAsync(reopened);
        ready.Message.Id.Should().Be("m-3");

        if (Capabilities.FollowsTimeProvider)
        {
            // The message leased before the reopen comes back when its lease ends, headers and all.
            await AdvanceTimeAsync(Lease + PastDue);
            var again = await ReceiveOneAsync(reopened);
            again.Message.Id.Should().Be("m-1");
            again.Message.Headers.Should().Contain("tenant", "acme");
            again.DeliveryCount.Should().Be(2);
        }
    }

    /// <summary>Checks <c>StrictFifoStore</c>: released message, keeps its place.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task StrictFifoStore_ReleasedMessage_KeepsItsPlace()
    {
        Skip.IfNot(Capabilities.StrictFifoUnderRedelivery, "The store does not keep a redelivered message's place.");
        var store = CreateStore();
        await store.EnqueueBatchAsync([Numbered(1), Numbered(2), Numbered(3)]);
        var first = await ReceiveOneAsync(store);
        (await store.ReleaseAsync(first.Lease)).Should().BeTrue();

        var order = new List<int>();
        while (order.Count < 3)
        {
            foreach (var delivery in await ReceiveAsync(store, 3))
            {
                order.Add(delivery.Message.Body.Number);
            }
        }

        order.Should().Equal(1, 2, 3);
    }
}
