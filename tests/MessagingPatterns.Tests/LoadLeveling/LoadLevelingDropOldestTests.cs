using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Tests.LoadLeveling;

public sealed class LoadLevelingDropOldestTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DropOldest_OverAPriorityStore_DropsTheOldestOfTheLowestLevel_NotTheMostUrgent(bool multiQueue)
    {
        var inner = multiQueue
            ? MessageStore.CreateMultiQueue<int>("levels", new MultiQueueOptions { Levels = 3 })
            : MessageStore.CreatePriority<int>("levels", new PriorityQueueOptions { Levels = 3 });
        var dropped = new List<DroppedMessage>();
        await using var store = MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { Capacity = 4, FullMode = FullMode.DropOldest, OnDropped = dropped.Add });
        await store.EnqueueAsync(new Message<int>(1, "urgent", priority: 2));
        await store.EnqueueAsync(new Message<int>(2, "low-old", priority: 0));
        await store.EnqueueAsync(new Message<int>(3, "mid", priority: 1));
        await store.EnqueueAsync(new Message<int>(4, "low-new", priority: 0));

        await store.EnqueueAsync(new Message<int>(5, "incoming", priority: 1));
        await store.EnqueueAsync(new Message<int>(6, "incoming-2", priority: 1));

        dropped.Select(d => d.MessageId).Should().Equal("low-old", "low-new");
        (await store.GetStatisticsAsync()).Ready.Should().Be(4);
    }

    [Fact]
    public void DropOldest_OverAStoreThatCannotOfferItsOldestMessage_IsRefusedAtStart()
    {
        var inner = new ForwardingStore<int>(MessageStore.CreateInMemory<int>("wrapped"));

        var act = () => MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { FullMode = FullMode.DropOldest, OnDropped = _ => { } });

        act.Should().Throw<OptionsValidationException>().Which.Message.Should()
            .Contain("DropOldest").And.Contain("'wrapped'").And.Contain("DropNewest");
    }

    [Fact]
    public async Task OnDroppedMessage_ReceivesTheTypedBody_AndABufferOfAnotherTypeRefusesIt()
    {
        var bodies = new List<int>();
        var options = new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.DropNewest }.OnDroppedMessage<int>(d => bodies.Add(d.Body));
        await using var store = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("typed"), options);
        await store.EnqueueAsync(new Message<int>(1));

        await store.EnqueueAsync(new Message<int>(42));

        bodies.Should().Equal(42);
        var wrongType = () => MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<string>("typed-string"), options);
        wrongType.Should().Throw<ArgumentException>().Which.Message.Should().Contain("OnDroppedMessage").And.Contain("Int32").And.Contain("String");
    }
}
