using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A dead-letter meets the loss of its delivery's channel: the copy is in the dead-letter queue and the
/// broker has the original back before the ack. The message must end up in one place, never both.
/// </summary>
public sealed class DeadLetterChannelLossTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task DeadLetter_WhoseChannelClosedBeforeTheAck_ReturnsFalse_AndLeavesTheMessageOnlyInTheQueue()
    {
        await using var scope = new StoreScope("dlchannel");
        var time = new PausingClock(new FakeTimeProvider(DateTimeOffset.UtcNow));
        var store = scope.Create(time: time);
        await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(1), "poison")).AsTask().WaitAsync(s_patience);
        var leased = await ReceiveAsync(store);

        // The dead-letter claims the lease and is held when it reads the clock, before its publish.
        time.PauseNextRead();
        var deadLetter = Task.Run(() => store.DeadLetterAsync(leased.Lease, "poison").AsTask());
        await time.Paused.WaitAsync(s_patience);
        await RabbitMqBroker.CloseConsumerChannelsAsync(scope.Name);
        var again = await ReceiveAsync(store); // the store saw the close: the broker had the original back
        time.Resume();
        var deadLettered = await deadLetter.WaitAsync(s_patience);

        deadLettered.Should().BeFalse("the original went back to the queue before it could be acknowledged");
        again.Message.Id.Should().Be("poison");
        (await store.GetDeadLettersAsync(10).AsTask().WaitAsync(s_patience)).Should().BeEmpty("a message is never in both the queue and the dead-letter queue");
        (await store.AckAsync(again.Lease).AsTask().WaitAsync(s_patience)).Should().BeTrue();
        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    private static async Task<Delivery<TestMessage>> ReceiveAsync(IMessageStore<TestMessage> store)
    {
        var buffer = new Delivery<TestMessage>[1];
        var count = await store.ReceiveAsync(buffer, s_lease).AsTask().WaitAsync(s_patience);
        count.Should().Be(1);
        return buffer[0];
    }

    /// <summary>A fake clock whose next read, once armed, holds the reading thread until <see cref="Resume"/>.</summary>
    private sealed class PausingClock(FakeTimeProvider inner) : TimeProvider
    {
        private readonly ManualResetEventSlim _gate = new(initialState: true);
        private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _armed;

        public Task Paused => _paused.Task;

        public override DateTimeOffset GetUtcNow()
        {
            if (Interlocked.Exchange(ref _armed, 0) == 1)
            {
                _paused.TrySetResult();
                _gate.Wait(TimeSpan.FromSeconds(60));
            }

            return inner.GetUtcNow();
        }

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => inner.CreateTimer(callback, state, dueTime, period);

        public void PauseNextRead()
        {
            _gate.Reset();
            Volatile.Write(ref _armed, 1);
        }

        public void Resume() => _gate.Set();
    }
}
