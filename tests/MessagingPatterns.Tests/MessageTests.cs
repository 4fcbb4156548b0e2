using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests;

public sealed class MessageTests
{
    [Fact]
    public void Constructor_WithNullBody_ThrowsNamingTheBody()
    {
        var act = () => new Message<string>(null!);

        act.Should().Throw<ArgumentNullException>().WithParameterName("body");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(256)]
    public void Constructor_WithPriorityOutOfRange_ThrowsNamingThePriority(int priority)
    {
        var act = () => new Message<string>("x", priority: priority);

        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("priority");
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Constructor_WithBlankId_ThrowsNamingTheId(string id)
    {
        var act = () => new Message<string>("x", id);

        act.Should().Throw<ArgumentException>().WithParameterName("id");
    }

    [Fact]
    public void Id_WhenNotGiven_IsGeneratedUniqueAndStable()
    {
        var first = new Message<int>(1);
        var second = new Message<int>(2);

        first.Id.Should().NotBe(second.Id);
        first.Id.Should().BeSameAs(first.Id);
    }

    [Fact]
    public void Headers_AreACopy_ThatNeitherTheCallerNorAHandlerCanChange()
    {
        var headers = new Dictionary<string, string> { ["tenant"] = "alice" };
        var message = new Message<int>(1, headers: headers);

        headers["tenant"] = "mallory";

        message.Headers["tenant"].Should().Be("alice");
        FluentActions.Invoking(() => ((IDictionary<string, string>)message.Headers)["tenant"] = "mallory").Should().Throw<NotSupportedException>();
    }

    [Fact]
    public async Task Publish_OfAnAlreadyPublishedMessage_StoresAnIndependentCopy()
    {
        await using var store = MessageStore.CreateInMemory<int>("republish");
        var message = new Message<int>(1, "same");
        await store.EnqueueAsync(message);
        await store.EnqueueAsync(message);

        var buffer = new Delivery<int>[2];
        (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1))).Should().Be(2);

        buffer.Select(d => d.DeliveryCount).Should().Equal(1, 1);
        buffer[0].Message.Should().NotBeSameAs(buffer[1].Message);
        buffer.Select(d => d.Message.Id).Should().AllBe("same");
    }

    [Fact]
    public async Task GeneratedId_ReadFromManyThreadsAtOnce_IsOneId_AndDiffersFromEveryOtherMessages()
    {
        var message = new Message<int>(1);
        using var start = new Barrier(4);
        var reads = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait(Bounded.Patience);
            return message.Id;
        }))).WaitAsync(Bounded.Patience);

        reads.Distinct().Should().ContainSingle().Which.Should().Be(message.Id);
        Enumerable.Range(0, 1000).Select(i => new Message<int>(i).Id).Append(message.Id).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task HighestPriority_SurvivesManyDeliveries()
    {
        await using var store = MessageStore.CreateInMemory<int>("priority-and-count");
        await store.EnqueueAsync(new Message<int>(1, priority: Message<int>.MaxPriority));
        var buffer = new Delivery<int>[1];
        for (var i = 1; i <= 3; i++)
        {
            (await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within()).Should().Be(1);
            buffer[0].DeliveryCount.Should().Be(i);
            buffer[0].Message.Priority.Should().Be(Message<int>.MaxPriority);
            await store.ReleaseAsync(buffer[0].Lease).Within();
        }
    }
}
