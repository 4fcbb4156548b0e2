using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Stores;

/// <summary>The default <see cref="IMessageStore{TMessage}.AckBatchAsync"/>, for stores that have no batch statement.</summary>
public sealed class AckBatchDefaultTests
{
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(1);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task AckBatch_StartsEveryAckBeforeAwaitingAny_SoAGroupCommitStoreCommitsThemTogether()
    {
        await using var inner = MessageStore.CreateInMemory<int>("held-acks", timeProvider: _time);
        var store = new HeldAckStore<int>(inner);
        var leases = await ReceiveAsync(store, 3);

        var batch = ((IMessageStore<int>)store).AckBatchAsync(leases).AsTask();

        // Before the change the second ack started only after the first had finished.
        store.Started.Should().Be(3, "every ack is under way while none has finished");
        store.Finish();
        (await batch.Within()).Should().Equal(true, true, true);
        (await inner.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task AckBatch_WhenOneAckFails_FinishesTheOthers_ThenThrowsTheFirstFailure()
    {
        await using var inner = MessageStore.CreateInMemory<int>("failing-ack", timeProvider: _time);
        var store = new HeldAckStore<int>(inner) { FailingAck = 2 };
        var leases = await ReceiveAsync(store, 3);

        var batch = ((IMessageStore<int>)store).AckBatchAsync(leases).AsTask();
        store.Finish();

        await batch.Invoking(task => task.Within()).Should().ThrowAsync<IOException>().WithMessage("ack 2 failed");
        (await inner.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 1, 0), "the acks around the failed one were made; its message comes back when its lease ends");
    }

    private static async Task<LeaseToken[]> ReceiveAsync(IMessageStore<int> store, int count)
    {
        await store.EnqueueBatchAsync(Enumerable.Range(0, count).Select(i => new Message<int>(i)).ToArray());
        var buffer = new Delivery<int>[count];
        (await store.ReceiveAsync(buffer, s_lease).Within()).Should().Be(count);
        return Array.ConvertAll(buffer, delivery => delivery.Lease);
    }

    /// <summary>A store whose acks all wait for <see cref="Finish"/>; the ack numbered <see cref="FailingAck"/> (from 1) then fails.</summary>
    private sealed class HeldAckStore<TMessage>(IMessageStore<TMessage> inner) : ForwardingStore<TMessage>(inner)
    {
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;

        public int Started => Volatile.Read(ref _started);

        public int FailingAck { get; init; }

        public void Finish() => _finish.TrySetResult();

        public override async ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
        {
            var number = Interlocked.Increment(ref _started);
            await _finish.Task;
            return number == FailingAck ? throw new IOException($"ack {number} failed") : await base.AckAsync(lease, cancellationToken);
        }
    }
}
