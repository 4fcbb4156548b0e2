using MessagingPatterns.Consumers;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.Tests.Consumers;

public sealed class ConsumerWorkerTests
{
    [Fact]
    public async Task PrefetchBookkeeping_EachHeldDeliveryIsStartedOrTakenBackNeverBoth_AndOnlyUnsettledOnesAreRenewed()
    {
        await using var store = MessageStore.CreateInMemory<int>("bookkeeping");
        await store.EnqueueBatchAsync(Enumerable.Range(0, 3).Select(i => new Message<int>(i)).ToArray());
        var attempts = new AttemptRunner<int>(PoolFactory.Scopes, ScopeFreeServices.None, _ => null!, new ConsumerOptions(), TimeProvider.System, NullLogger.Instance, store.Name, CancellationToken.None);
        var worker = new ConsumerWorker<int>(attempts, 3, store.Name); // bookkeeping alone: no attempt runs
        var received = await store.ReceiveAsync(worker.Buffer, TimeSpan.FromMinutes(1)).Within();
        worker.Hold(received);

        worker.TryStart(0).Should().BeTrue();
        worker.CurrentMessageId().Should().Be(worker.Buffer[0].Message.Id);
        var unstarted = worker.TakeUnstarted();
        worker.TryStart(1).Should().BeFalse("the stop took the rest back");

        unstarted.Select(d => d.Message.Body).Should().Equal(1, 2);
        Held(worker).Should().Equal([worker.Buffer[0].Lease], "the started delivery is held until it is settled");
        worker.Settled(1);
        Held(worker).Should().BeEmpty();
    }

    private static List<LeaseToken> Held(ConsumerWorker<int> worker)
    {
        var leases = new List<LeaseToken>();
        worker.CollectHeld(leases);
        return leases;
    }
}
