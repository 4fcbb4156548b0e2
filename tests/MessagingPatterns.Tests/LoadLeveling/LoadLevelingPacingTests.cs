using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>
/// The buffer's pacing shortcut (<see cref="LoadLevelingOptions.MessagesPerSecond"/>) receives through the pacing
/// decorator over the same store: the buffer still counts every paced delivery, and disposing it disposes each layer once.
/// </summary>
public sealed class LoadLevelingPacingTests
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private static readonly TimeSpan s_lease = Pump.Lease;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Receive_WhenPaced_CountsEachDeliveryInTheBuffersBytesAndTotals()
    {
        await using var store = MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<int>("paced-bytes", timeProvider: _time),
            new LoadLevelingOptions { Capacity = 10, CapacityBytes = 100, MessageSize = body => (int)body, MessagesPerSecond = 1 },
            _time);
        await store.EnqueueBatchAsync([new Message<int>(7, "m-7"), new Message<int>(5, "m-5")]);
        _time.Advance(TimeSpan.FromSeconds(3));

        var buffer = new Delivery<int>[2];
        (await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience)).Should().Be(1, "one permit is there");
        var waiting = store.ReceiveAsync(buffer.AsMemory(1), s_lease).AsTask();
        waiting.IsCompleted.Should().BeFalse("the next permit comes a second later");
        _time.Advance(TimeSpan.FromSeconds(1));
        (await waiting.WaitAsync(s_patience)).Should().Be(1);

        (await store.AckAsync(buffer[0].Lease)).Should().BeTrue();
        store.GetSnapshot().Bytes.Should().Be(5, "the first message's bytes came back with its ack");
        (await store.AckAsync(buffer[1].Lease)).Should().BeTrue();
        store.GetSnapshot().Should().Match<LoadLevelingSnapshot>(s =>
            s.Depth == 0 && s.Bytes == 0 && s.TotalProcessed == 2 && s.AverageWait >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Dispose_WhenPaced_FailsAReceiveWaitingForAPermit_AndDisposesTheStoreOnce()
    {
        var inner = new DisposalCountingStore(MessageStore.CreateInMemory<int>("paced-dispose", timeProvider: _time));
        var store = MessageStore.WithLoadLeveling(inner, new LoadLevelingOptions { MessagesPerSecond = 1 }, _time);
        await store.EnqueueBatchAsync([new Message<int>(0, "m-0"), new Message<int>(1, "m-1")]);
        (await store.ReceiveAsync(new Delivery<int>[1], s_lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        var waiting = store.ReceiveAsync(new Delivery<int>[1], s_lease).AsTask();
        waiting.IsCompleted.Should().BeFalse();

        await store.DisposeAsync().AsTask().WaitAsync(s_patience);
        await store.DisposeAsync().AsTask().WaitAsync(s_patience);

        await FluentActions.Awaiting(() => waiting.WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>();
        inner.Disposals.Should().Be(1);
        await FluentActions.Awaiting(() => store.ReceiveAsync(new Delivery<int>[1], s_lease).AsTask())
            .Should().ThrowAsync<ObjectDisposedException>();
    }

    /// <summary>Counts how often it is disposed.</summary>
    private sealed class DisposalCountingStore(IMessageStore<int> inner) : ForwardingStore<int>(inner), IAsyncDisposable
    {
        private readonly IMessageStore<int> _inner = inner;
        private int _disposals;

        public int Disposals => Volatile.Read(ref _disposals);

        ValueTask IAsyncDisposable.DisposeAsync()
        {
            Interlocked.Increment(ref _disposals);
            return _inner.DisposeAsync();
        }
    }
}
