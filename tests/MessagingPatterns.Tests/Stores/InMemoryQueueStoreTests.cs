using MessagingPatterns.Stores;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Tests.Stores;

/// <summary>What the in-memory FIFO store adds to the conformance suite: bounded capacity.</summary>
public sealed class InMemoryQueueStoreTests
{
    [Fact]
    public async Task Enqueue_IntoAFullStore_WaitsUntilAnAckMakesRoom()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 2 });
        await store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]);

        var third = store.EnqueueAsync(new Message<int>(3)).AsTask();
        third.IsCompleted.Should().BeFalse("the store is full");

        var buffer = new Delivery<int>[1];
        await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        third.IsCompleted.Should().BeFalse("a leased message still counts against the capacity");
        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();

        await third.Within();
        (await store.GetStatisticsAsync()).Ready.Should().Be(2);
    }

    [Fact]
    public async Task Enqueue_IntoAFullStore_CancelledWhileWaiting_StoresNothing()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 1 });
        await store.EnqueueAsync(new Message<int>(1));
        using var cancellation = new CancellationTokenSource();

        var waiting = store.EnqueueAsync(new Message<int>(2), cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => waiting.Within()).Should().ThrowAsync<OperationCanceledException>();
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task EnqueueBatch_LargerThanTheCapacity_ThrowsNamingTheMessages()
    {
        await using var store = MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 1 });

        var act = () => store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]).AsTask();

        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("messages");
        (await store.GetStatisticsAsync()).Ready.Should().Be(0);
    }

    [Fact]
    public void CreateInMemory_WithCapacityZero_ThrowsNamingTheOption()
    {
        var act = () => MessageStore.CreateInMemory<int>("bounded", new InMemoryQueueOptions { Capacity = 0 });

        act.Should().Throw<OptionsValidationException>().WithMessage("*Capacity*");
    }

    [Fact]
    public async Task Settle_WithALeaseFromAnotherStore_ReturnsFalse()
    {
        await using var first = MessageStore.CreateInMemory<int>("first");
        await using var second = MessageStore.CreateInMemory<int>("second");
        await first.EnqueueAsync(new Message<int>(1));
        await second.EnqueueAsync(new Message<int>(2));
        var buffer = new Delivery<int>[1];
        await first.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within();
        await second.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromMinutes(1)).Within();

        (await second.AckAsync(buffer[0].Lease)).Should().BeFalse();
        (await first.AckAsync(buffer[0].Lease)).Should().BeTrue();
    }
}
