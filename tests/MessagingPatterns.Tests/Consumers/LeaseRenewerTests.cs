using MessagingPatterns.Consumers;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace MessagingPatterns.Tests.Consumers;

public sealed class LeaseRenewerTests
{
    [Fact]
    public async Task Renew_CallsTheStoreForEveryLeaseBeforeAnyCompletes()
    {
        await using var inner = MessageStore.CreateInMemory<int>("renew-together");
        await inner.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(i => new Message<int>(i)).ToArray());
        var buffer = new Delivery<int>[5];
        (await inner.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).Within()).Should().Be(5);
        var store = new BarrierRenewStore<int>(inner, buffer.Length);
        var renewer = new LeaseRenewer<int>(store, TimeSpan.FromMinutes(1), _ => { }, NullLogger.Instance);

        // Each renewal waits until all five were asked for: renewed one after another, the first would wait forever.
        await renewer.RenewAsync(buffer.Select(d => d.Lease).ToArray()).Within();

        store.Renewed.Should().Be(5);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(30_000, 10_000)]
    public void Period_IsAThirdOfTheLease_AndAtLeastOneMillisecond(int leaseMs, int periodMs) =>
        LeaseRenewer<int>.PeriodFor(TimeSpan.FromMilliseconds(leaseMs)).Should().Be(TimeSpan.FromMilliseconds(periodMs));

    private sealed class BarrierRenewStore<TMessage>(IMessageStore<TMessage> inner, int expected) : ForwardingStore<TMessage>(inner)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _asked;
        private int _renewed;

        public int Renewed => Volatile.Read(ref _renewed);

        public override async ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _asked) == expected)
            {
                _all.TrySetResult();
            }

            await _all.Task;
            var renewed = await base.RenewLeaseAsync(lease, leaseDuration, cancellationToken);
            Interlocked.Increment(ref _renewed);
            return renewed;
        }
    }
}
