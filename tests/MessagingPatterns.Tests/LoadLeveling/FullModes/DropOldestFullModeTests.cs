using MessagingPatterns.LoadLeveling;
using MessagingPatterns.LoadLeveling.FullModes;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling.FullModes;

/// <summary><see cref="FullMode.DropOldest"/> as its own policy, over the in-memory store.</summary>
public sealed class DropOldestFullModeTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LoadLevelingTotals _totals = new("orders");
    private readonly List<DroppedMessage> _dropped = [];
    private readonly IMessageStore<int> _store = MessageStore.CreateInMemory<int>("orders");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Handle_DropsTheOldestReadyMessage_HandsItToTheRemover_AndAsksForAnotherTry()
    {
        await _store.EnqueueAsync(new Message<int>(1, id: "old"));
        await _store.EnqueueAsync(new Message<int>(2, id: "newer"));
        var remover = new Remover(_store);
        var policy = Policy(remover, _dropped.Add);

        var outcome = await policy.HandleAsync(Publish("incoming"), CancellationToken.None).AsTask().WaitAsync(s_patience);

        outcome.Should().Be(FullModeOutcome.TryAgain);
        _dropped.Select(d => d.MessageId).Should().Equal("old");
        _dropped[0].Reason.Should().StartWith("dropped:").And.Contain("oldest");
        remover.Removed.Should().Equal("old");
        (await _store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task Handle_EveryMessageInFlight_DropsTheIncomingOne()
    {
        await _store.EnqueueAsync(new Message<int>(1, id: "leased"));
        (await _store.ReceiveAsync(new Delivery<int>[1], Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        var remover = new Remover(_store);

        var outcome = await Policy(remover, _dropped.Add).HandleAsync(Publish("incoming"), CancellationToken.None).AsTask().WaitAsync(s_patience);

        outcome.Should().Be(FullModeOutcome.Done);
        _dropped.Select(d => d.MessageId).Should().Equal("incoming");
        _dropped[0].Reason.Should().Contain("in flight");
        remover.Removed.Should().BeEmpty();
    }

    [Fact]
    public async Task Handle_TheCallbackFails_TheOldestMessageGoesBack_AndTheErrorReachesThePublisher()
    {
        await _store.EnqueueAsync(new Message<int>(1, id: "old"));
        var remover = new Remover(_store);
        var policy = Policy(remover, _ => throw new InvalidOperationException("callback failed"));

        await FluentActions.Awaiting(() => policy.HandleAsync(Publish("incoming"), CancellationToken.None).AsTask().WaitAsync(s_patience))
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("callback failed");

        remover.Removed.Should().BeEmpty();
        var buffer = new Delivery<int>[1];
        (await _store.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        buffer[0].Message.Id.Should().Be("old", "a message whose drop was not reported is not dropped");
        _totals.Dropped.Should().Be(0);
    }

    [Fact]
    public void Create_OverAStoreThatCannotOfferItsOldestMessage_IsRefused()
    {
        var act = () => new DropOldestFullMode<int>(new ForwardingStore<int>(_store), 10, Reporter(_dropped.Add), new Remover(_store));

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("DropOldest").And.Contain("orders");
    }

    private DropOldestFullMode<int> Policy(Remover remover, Action<DroppedMessage> onDropped) => new(_store, 10, Reporter(onDropped), remover);

    private DropReporter<int> Reporter(Action<DroppedMessage> onDropped) => new("orders", onDropped, _time, _totals);

    private static PendingPublish<int> Publish(string id) => new(new Message<int>(3, id: id), 0);

    private sealed class Remover(IMessageStore<int> store) : IDroppedMessageRemover<int>
    {
        public List<string> Removed { get; } = [];

        public async ValueTask RemoveDroppedAsync(Delivery<int> delivery)
        {
            Removed.Add(delivery.Message.Id);
            (await store.AckAsync(delivery.Lease)).Should().BeTrue();
        }
    }
}
