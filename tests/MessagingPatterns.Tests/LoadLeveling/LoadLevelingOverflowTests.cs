using System.Diagnostics;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>The overflow store's paths that could stall the queue, deliver twice or keep publishes spilling.</summary>
public sealed class LoadLevelingOverflowTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = Pump.Patience;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Overflow_HeadMessageTheQueuesStoreKeepsFailingOn_IsDeadLetteredAfterBoundedTries_AndTheRestFlow(bool redact)
    {
        var inner = new FailingEnqueueStore(MessageStore.CreateInMemory<int>("poison", timeProvider: _time), poison: 2);
        var overflow = MessageStore.CreateInMemory<int>("poison-overflow", timeProvider: _time);
        var options = new LoadLevelingOptions { Capacity = 2, FullMode = FullMode.Reject };
        if (redact)
        {
            // The store's exception quotes the message; the hook hides that part of the reason.
            options.Redact = text => text.Replace("body 2", "[body]", StringComparison.Ordinal);
        }

        var store = Create(inner, options, overflow);
        for (var i = 0; i < 8; i++)
        {
            await store.EnqueueAsync(Msg(i)).AsTask().WaitAsync(s_patience);
        }

        // The mover tries the poison message again every (fake) second; time runs on until everything else is handled.
        var handled = new List<string>();
        var clock = Stopwatch.StartNew();
        while (handled.Count < 7)
        {
            clock.Elapsed.Should().BeLessThan(s_patience, "the messages behind the poison one should flow (handled so far: {0})", string.Join(", ", handled));
            await Pump.DrainAvailableAsync(store, handled);
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }

        handled.Should().Equal("m-0", "m-1", "m-3", "m-4", "m-5", "m-6", "m-7");
        var deadLetter = (await overflow.GetDeadLettersAsync(10)).Should().ContainSingle().Subject;
        deadLetter.MessageId.Should().Be("m-2");
        deadLetter.Reason.Should().Contain("failed 5 times").And.Contain(redact ? "cannot serialize [body]" : "cannot serialize body 2");
        inner.Attempts(2).Should().Be(5);
        store.GetSnapshot().Overflowed.Should().Be(0);
    }

    [Fact]
    public async Task Overflow_WhoseAckFailsAfterTheMove_DeliversTheMessageOnce()
    {
        var overflow = new FlakyAckStore(MessageStore.CreateInMemory<int>("flaky-overflow", timeProvider: _time), failures: 1);
        var store = Create(MessageStore.CreateInMemory<int>("flaky", timeProvider: _time), new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, overflow);
        await store.EnqueueAsync(Msg(0));
        await store.EnqueueAsync(Msg(1));

        var deliveries = new List<Delivery<int>>();
        var clock = Stopwatch.StartNew();
        for (var second = 0; second < 90; second++)
        {
            clock.Elapsed.Should().BeLessThan(s_patience);
            deliveries.AddRange(await DrainAsync(store));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        deliveries.Select(d => d.Message.Id).Should().Equal("m-0", "m-1");
        deliveries[1].Message.Headers.Should().Contain(LoadLevelingHeaders.MovedFromOverflow, "true");
        overflow.AckCalls.Should().BeGreaterThan(1, "the failed acknowledgement is tried again");
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
        store.GetSnapshot().Overflowed.Should().Be(0);
    }

    [Fact]
    public async Task Overflow_WhoseLeaseEndsWhileTheQueuesStoreIsSlow_IsNotMovedTwice()
    {
        var inner = new GatedEnqueueStore<int>(MessageStore.CreateInMemory<int>("slow", timeProvider: _time));
        var overflow = MessageStore.CreateInMemory<int>("slow-overflow", timeProvider: _time);
        var store = Create(new IgnoresCancellation(inner), new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, overflow);
        await store.EnqueueAsync(Msg(0));
        await inner.WaitForPublishAsync();
        await store.EnqueueAsync(Msg(1));
        inner.Close();

        // Room frees; the mover leases m-1 for 30 s, and the queue's store takes 40 s to accept it.
        (await store.AckAsync((await DrainOneAsync(store)).Lease)).Should().BeTrue();
        await inner.WaitForPublishAsync().WaitAsync(s_patience);
        _time.Advance(TimeSpan.FromSeconds(40));
        inner.Open();

        var deliveries = new List<Delivery<int>>();
        var clock = Stopwatch.StartNew();
        for (var second = 0; second < 90; second++)
        {
            clock.Elapsed.Should().BeLessThan(s_patience);
            deliveries.AddRange(await DrainAsync(store));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        deliveries.Select(d => d.Message.Id).Should().Equal(["m-1"], "the copy the overflow store gave back after the lease ended is removed, not moved again");
        (await overflow.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task OverflowCount_AfterAnotherProcessTookFromASharedOverflowStore_IsRecounted_AndPublishesStopSpilling()
    {
        var overflow = MessageStore.CreateInMemory<int>("shared-overflow", timeProvider: _time);
        var store = Create(MessageStore.CreateInMemory<int>("shared", timeProvider: _time), new LoadLevelingOptions { Capacity = 1, FullMode = FullMode.Reject }, overflow);
        await store.EnqueueAsync(Msg(0));
        await store.EnqueueAsync(Msg(1));
        await store.EnqueueAsync(Msg(2));
        store.GetSnapshot().Overflowed.Should().Be(2);

        // Another process sharing the overflow store moves (or dead-letters) what was spilled, past this buffer's counters.
        var other = new Delivery<int>[2];
        var taken = await overflow.ReceiveAsync(other, Pump.Lease).AsTask().WaitAsync(s_patience);
        for (var i = 0; i < taken; i++)
        {
            (await overflow.AckAsync(other[i].Lease)).Should().BeTrue();
        }

        (await DrainAsync(store)).Select(d => d.Message.Id).Should().Equal("m-0");
        var clock = Stopwatch.StartNew();
        while (store.GetSnapshot().Overflowed > 0)
        {
            clock.Elapsed.Should().BeLessThan(s_patience, "the overflow store is counted again within a second or so");
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }

        await store.EnqueueAsync(Msg(3)).AsTask().WaitAsync(s_patience);
        store.GetSnapshot().TotalOverflowed.Should().Be(2, "with room and nothing left in the overflow store, a publish goes straight in");
        (await DrainAsync(store)).Select(d => d.Message.Id).Should().Equal("m-3");
    }

    private static Message<int> Msg(int number) => new(number, $"m-{number}");

    private static async Task<Delivery<int>> DrainOneAsync(IMessageStore<int> store)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }

    /// <summary>Receives and acknowledges what is ready now; the mover's work lands on other threads, so it yields first.</summary>
    private static async Task<List<Delivery<int>>> DrainAsync(IMessageStore<int> store)
    {
        var deliveries = new List<Delivery<int>>();
        for (var pass = 0; pass < 3; pass++)
        {
            await Task.Yield();
            var buffer = new Delivery<int>[16];
            using var noWait = new CancellationTokenSource();
            var receive = store.ReceiveAsync(buffer, Pump.Lease, noWait.Token).AsTask();
            if (!receive.IsCompleted)
            {
                await Task.Delay(1);
                await noWait.CancelAsync();
            }

            int received;
            try
            {
                received = await receive.WaitAsync(s_patience);
            }
            catch (OperationCanceledException)
            {
                continue;
            }

            for (var i = 0; i < received; i++)
            {
                deliveries.Add(buffer[i]);
                (await store.AckAsync(buffer[i].Lease)).Should().BeTrue();
            }
        }

        return deliveries;
    }

    private ILoadLevelingStore<int> Create(IMessageStore<int> inner, LoadLevelingOptions options, IMessageStore<int> overflow)
    {
        var store = MessageStore.WithLoadLeveling(inner, options, _time, overflow);
        _stores.Add(store);
        return store;
    }

    /// <summary>A store whose serializer fails on one body, every time, while it takes every other message.</summary>
    private sealed class FailingEnqueueStore(IMessageStore<int> inner, int poison) : ForwardingStore<int>(inner)
    {
        private int _attempts;

        public int Attempts(int body) => body == poison ? Volatile.Read(ref _attempts) : 0;

        public override ValueTask EnqueueAsync(Message<int> message, CancellationToken cancellationToken = default)
        {
            if (message.Body == poison)
            {
                Interlocked.Increment(ref _attempts);
                throw new InvalidOperationException($"cannot serialize body {poison}");
            }

            return base.EnqueueAsync(message, cancellationToken);
        }
    }

    /// <summary>An overflow store whose first acknowledgements fail after the lease was granted (a dropped connection).</summary>
    private sealed class FlakyAckStore(IMessageStore<int> inner, int failures) : ForwardingStore<int>(inner)
    {
        private int _calls;

        public int AckCalls => Volatile.Read(ref _calls);

        public override ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) <= failures ? throw new IOException("connection reset") : base.AckAsync(lease, cancellationToken);
    }

    /// <summary>A store that, once it has started a publish, finishes it whatever the token says (a commit under way).</summary>
    private sealed class IgnoresCancellation(IMessageStore<int> inner) : ForwardingStore<int>(inner)
    {
        public override ValueTask EnqueueAsync(Message<int> message, CancellationToken cancellationToken = default) => base.EnqueueAsync(message, CancellationToken.None);
    }
}
