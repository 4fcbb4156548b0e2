using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Polly;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

public sealed class PriorityConsumerTests
{
    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    [InlineData("deadline")]
    public async Task ConsumerPool_HighPriorityBehindAHundredThousandLow_StartsWithinOneHandlerDuration(string kind)
    {
        var time = NewTime();
        await using var store = kind == "deadline"
            ? MessageStore.CreateMultiQueue<int>("inversion", new MultiQueueOptions
            {
                Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
            }, time)
            : Create(kind, 3, time);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 100_000).Select(i => new Message<int>(i, priority: 0)).ToArray());
        var handler = new GatedConsumer();
        await using var pool = NewPool(store, handler, concurrency: 2);
        await pool.StartAsync(CancellationToken.None);

        // Both workers are busy with a low message and nothing else is leased (prefetch 1).
        (await handler.Started.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be(0);
        (await handler.Started.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Should().Be(0);
        (await store.GetStatisticsAsync()).InFlight.Should().Be(2);

        await store.EnqueueAsync(new Message<int>(-1, "urgent", priority: 2));
        handler.Complete(1);

        (await handler.Started.Reader.ReadAsync().AsTask().WaitAsync(Patience))
            .Should().Be(2, "the urgent message starts as soon as one handler finishes");

        // Stop receiving first, then let the running handlers finish: releasing them first would let the
        // workers take more of the backlog and block in it until the shutdown timeout.
        var stopping = pool.StopAsync(CancellationToken.None);
        handler.Complete(2);
        await stopping.WaitAsync(Patience);
        (await store.GetStatisticsAsync()).InFlight.Should().Be(0, "nothing is left leased after the pool stops");
    }

    [Fact]
    public async Task AddLevelConsumer_RunsDedicatedWorkersPerLevel()
    {
        var handler = new GatedConsumer();
        var services = new ServiceCollection();
        services.AddSingleton(handler);
        services.AddInMemoryMultiQueue<int>("orders", o => o.Levels = 2)
            .AddLevelConsumer<int, GatedConsumerScope>(1, o => Configure(o, concurrency: 2))
            .AddLevelConsumer<int, GatedConsumerScope>(0, o => Configure(o, concurrency: 1));
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredKeyedService<IMessageStore<int>>("orders");
        store.Should().BeAssignableTo<IPriorityMessageStore<int>>();
        for (var i = 0; i < 3; i++)
        {
            await store.EnqueueAsync(new Message<int>(i, priority: 1));
            await store.EnqueueAsync(new Message<int>(i, priority: 0));
        }

        var pools = provider.GetServices<IHostedService>().ToArray();
        pools.Should().ContainSingle("one hosted service runs both pools");
        foreach (var pool in pools)
        {
            await pool.StartAsync(CancellationToken.None);
        }

        var started = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            started.Add(await handler.Started.Reader.ReadAsync().AsTask().WaitAsync(Patience));
        }

        started.Order().Should().Equal([0, 1, 1], "the premium level has two workers, the free level one, each taking only its level");
        (await store.GetStatisticsAsync()).InFlight.Should().Be(3);

        handler.Complete(100);
        for (var i = 0; i < 3; i++)
        {
            await handler.Started.Reader.ReadAsync().AsTask().WaitAsync(Patience);
        }

        foreach (var pool in pools)
        {
            await pool.StopAsync(CancellationToken.None).WaitAsync(Patience);
        }

        handler.Handled.Should().Be(6);
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task AddLevelConsumer_OverAFifoStore_FailsWhenThePoolIsBuilt()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<int>("plain").AddLevelConsumer<int, GatedConsumerScope>(0);
        services.AddSingleton(new GatedConsumer());
        await using var provider = services.BuildServiceProvider();

        var act = () => provider.GetServices<IHostedService>().ToArray();

        act.Should().Throw<InvalidOperationException>().WithMessage("*priority store*");
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("strict")]
    public async Task FourProducersFourConsumers_LoseNothing_AndKeepFifoWithinALevel(string kind)
    {
        const int producers = 4;
        const int consumers = 4;
        const int perProducer = 2_500;
        await using var store = Create(kind, 3, TimeProvider.System);
        var total = producers * perProducer;
        var published = new ConcurrentDictionary<string, int>();
        var delivered = new ConcurrentDictionary<string, int>();
        var perConsumer = Enumerable.Range(0, consumers).Select(_ => new List<(int Producer, int Level, int Seq)>()).ToArray();
        var acked = 0;
        using var done = new CancellationTokenSource();

        var consuming = Enumerable.Range(0, consumers).Select(c => Task.Run(async () =>
        {
            var buffer = new Delivery<int>[8];
            while (true)
            {
                int received;
                try
                {
                    received = await store.ReceiveAsync(buffer, Lease, done.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                for (var i = 0; i < received; i++)
                {
                    var message = buffer[i].Message;
                    delivered.AddOrUpdate(message.Id, 1, (_, n) => n + 1);
                    perConsumer[c].Add((message.Body / perProducer, message.Priority, message.Body % perProducer));
                    (await store.AckAsync(buffer[i].Lease)).Should().BeTrue();
                    if (Interlocked.Increment(ref acked) == total)
                    {
                        await done.CancelAsync();
                    }
                }
            }
        })).ToArray();

        var producing = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var random = new Random(p);
            for (var i = 0; i < perProducer; i++)
            {
                var message = new Message<int>(p * perProducer + i, $"p{p}-{i}", priority: random.Next(3));
                await store.EnqueueAsync(message);
                published.TryAdd(message.Id, message.Priority);
            }
        })).ToArray();

        await Task.WhenAll(producing).WaitAsync(Patience);
        await Task.WhenAll(consuming).WaitAsync(Patience);

        var lost = published.Keys.Except(delivered.Keys).Count();
        var unexpected = delivered.Keys.Except(published.Keys).Count();
        (lost, unexpected).Should().Be((0, 0));
        delivered.Values.Should().AllSatisfy(n => n.Should().Be(1));
        foreach (var received in perConsumer)
        {
            foreach (var stream in received.GroupBy(r => (r.Producer, r.Level)))
            {
                stream.Select(r => r.Seq).Should().BeInAscendingOrder("each consumer sees one producer's messages of one level in publish order");
            }
        }
    }

    private static void Configure(ConsumerOptions options, int concurrency)
    {
        options.Concurrency = concurrency;
        options.PrefetchCount = 1;
        options.RenewLeases = false;
        options.ResiliencePipeline = ResiliencePipeline.Empty;
    }

    private static ConsumerWorkerPool<int> NewPool(IMessageStore<int> store, GatedConsumer handler, int concurrency)
    {
        var options = new ConsumerOptions();
        Configure(options, concurrency);
        var scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();
        return new ConsumerWorkerPool<int>(store, scopes, _ => handler, options);
    }

    /// <summary>Reports each start (the message's priority) and finishes only when the test lets one handler complete.</summary>
    private sealed class GatedConsumer : IConsumer<int>
    {
        private readonly SemaphoreSlim _gate = new(0);
        private int _handled;

        public Channel<int> Started { get; } = Channel.CreateUnbounded<int>();

        public int Handled => Volatile.Read(ref _handled);

        public void Complete(int handlers) => _gate.Release(handlers);

        public async Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            Started.Writer.TryWrite(context.Priority);
            await _gate.WaitAsync(cancellationToken);
            Interlocked.Increment(ref _handled);
        }
    }

    /// <summary>The per-message consumer DI resolves; it forwards to the shared gated consumer.</summary>
    private sealed class GatedConsumerScope(GatedConsumer inner) : IConsumer<int>
    {
        public Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken) => inner.ConsumeAsync(context, cancellationToken);
    }
}
