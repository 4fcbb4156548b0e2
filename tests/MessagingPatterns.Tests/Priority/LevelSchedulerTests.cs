using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

/// <summary>The level scheduler as a public abstraction: the built-in ones by factory, and one written here.</summary>
public sealed class LevelSchedulerTests
{
    [Fact]
    public async Task Weighted_WeightsWrittenFromTheHighestLevelDown_GiveTheTopLevelTheFirstWeight()
    {
        await using var store = MessageStore.CreateMultiQueue<int>("weighted", new MultiQueueOptions { Scheduler = LevelScheduler.Weighted(70, 20, 10) });
        await store.EnqueueBatchAsync(Enumerable.Range(0, 3_000).Select(i => new Message<int>(i, priority: i % 3)).ToArray());

        var counts = new int[3];
        var buffer = new Delivery<int>[1];
        for (var i = 0; i < 1_000; i++)
        {
            Sync(store.ReceiveAsync(buffer, Lease)).Should().Be(1);
            counts[buffer[0].Message.Priority]++;
        }

        counts.Should().Equal([100, 200, 700], "70/20/10 is written top level first");
    }

    [Fact]
    public async Task Deadline_TargetsWrittenFromTheHighestLevelDown_ServeTheLevelNearestItsTarget()
    {
        var time = NewTime();
        await using var store = MessageStore.CreateMultiQueue<int>("deadline", new MultiQueueOptions
        {
            Scheduler = LevelScheduler.Deadline(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)),
        }, time);
        Publish(store, new Message<int>(0, priority: 0));
        Publish(store, new Message<int>(1, priority: 1));
        time.Advance(TimeSpan.FromMilliseconds(480));
        Publish(store, new Message<int>(2, priority: 2));

        // Level 1 has 20 ms of slack left, the top level 50 ms, level 0 4.5 s.
        TakeAndAck(store).Priority.Should().Be(1);
        TakeAndAck(store).Priority.Should().Be(2);
        TakeAndAck(store).Priority.Should().Be(0);
    }

    [Fact]
    public async Task UserWrittenScheduler_FairShareByTenantHeader_PlugsInWithoutTouchingTheLibrary()
    {
        // Two levels; the noisy tenant floods the top level, the quiet one publishes at level 0. Strict order would
        // starve the quiet tenant; this scheduler serves whichever tenant has had fewer messages so far.
        await using var store = MessageStore.CreateMultiQueue<int>("tenants", new MultiQueueOptions { Levels = 2, Scheduler = new FairShareByTenant() });
        var noisy = new Dictionary<string, string> { ["tenant"] = "noisy" };
        var quiet = new Dictionary<string, string> { ["tenant"] = "quiet" };
        await store.EnqueueBatchAsync(Enumerable.Range(0, 100).Select(i => new Message<int>(i, priority: 1, headers: noisy)).ToArray());
        await store.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(i => new Message<int>(i, priority: 0, headers: quiet)).ToArray());

        var tenants = Enumerable.Range(0, 20).Select(_ => TakeAndAck(store).Headers["tenant"]).ToList();

        tenants.Should().Equal(Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? "noisy" : "quiet"), "each tenant gets every other turn");
        Sync(store.GetStatisticsAsync()).Ready.Should().Be(90);
    }

    [Fact]
    public void Options_SchedulerThatDoesNotFitTheLevels_FailsNamingTheScheduler()
    {
        var create = () => MessageStore.CreateMultiQueue<int>("misfit", new MultiQueueOptions { Levels = 3, Scheduler = LevelScheduler.Weighted(70, 30) });

        create.Should().Throw<OptionsValidationException>().WithMessage("*Scheduler*3 levels*");
    }

    [Fact]
    public void Options_SchedulerAndSchedulingBothSet_FailNamingBoth()
    {
        // The obsolete, lowest-first shortcut beside a scheduler: the mix the validation refuses.
#pragma warning disable CS0618
        var create = () => MessageStore.CreateMultiQueue<int>("both", new MultiQueueOptions
        {
            Scheduler = LevelScheduler.Strict,
            Scheduling = LevelScheduling.Weighted,
            Weights = [1, 2, 3],
        });
#pragma warning restore CS0618

        create.Should().Throw<OptionsValidationException>().WithMessage("*either Scheduler or Scheduling*");
    }

    [Fact]
    public void Factories_RejectBadArguments_NamingThem()
    {
        FluentActions.Invoking(() => LevelScheduler.Weighted()).Should().Throw<ArgumentException>().WithParameterName("weightsFromHighest");
        FluentActions.Invoking(() => LevelScheduler.Weighted(1, 0)).Should().Throw<ArgumentException>().WithParameterName("weightsFromHighest");
        FluentActions.Invoking(() => LevelScheduler.Deadline(TimeSpan.Zero)).Should().Throw<ArgumentException>().WithParameterName("targetsFromHighest");
        FluentActions.Invoking(() => LevelScheduler.Aging(TimeSpan.Zero)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxWait");
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("multi")]
    public async Task AddInMemoryPriorityStores_ResolveTheStoreAsAKeyedPriorityStore_TheOneBehindTheQueue(string kind)
    {
        var services = new ServiceCollection();
        var builder = kind == "priority"
            ? services.AddInMemoryPriorityQueue<int>("orders", o => o.Levels = 3)
            : services.AddInMemoryMultiQueue<int>("orders", o => o.Scheduler = LevelScheduler.Weighted(70, 20, 10));
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredKeyedService<IPriorityMessageStore<int>>("orders");
        await provider.GetRequiredKeyedService<IProducer<int>>("orders").PublishAsync(new Message<int>(1, priority: 2));

        store.Levels.Should().Be(3);
        store.GetReadyCount(2).Should().Be(1, "the keyed priority store is the queue's own store");
        provider.GetRequiredKeyedService<IMessageStore<int>>("orders").Should().BeSameAs(store);
        _ = builder;
    }

    [Fact]
    public async Task UserWrittenScheduler_ThatThrowsPartWayThroughAReceive_LeavesNoMessageStranded()
    {
        var time = NewTime();
        await using var store = MessageStore.CreateMultiQueue<int>("throws", new MultiQueueOptions { Levels = 2, Scheduler = new ThrowsOnSecondPick() }, time);
        await store.EnqueueBatchAsync(Enumerable.Range(0, 4).Select(i => new Message<int>(i, priority: i % 2)).ToArray());

        var receive = () => store.ReceiveAsync(new Delivery<int>[4], TimeSpan.FromSeconds(30)).AsTask();

        await receive.Should().ThrowAsync<InvalidOperationException>().WithMessage("second pick");
        time.Advance(TimeSpan.FromSeconds(31));
        Sync(store.GetStatisticsAsync()).Ready.Should().Be(4, "the message leased before the scheduler threw comes back when its lease ends");
    }

    /// <summary>A faulty user scheduler: picks one message, then throws.</summary>
    private sealed class ThrowsOnSecondPick : LevelScheduler
    {
        private int _picks;

        public override LevelScheduler ForStore(int levels) => new ThrowsOnSecondPick();

        public override int SelectLevel(ReadyLevels ready, int max, out int run)
        {
            run = 1;
            return ++_picks == 2 ? throw new InvalidOperationException("second pick") : ready.Highest;
        }
    }

    /// <summary>A scheduler as a user would write one: fair share between tenants named by a header.</summary>
    private sealed class FairShareByTenant : LevelScheduler
    {
        private readonly Dictionary<string, int> _served = [];

        public override LevelScheduler ForStore(int levels) => new FairShareByTenant();

        public override int SelectLevel(ReadyLevels ready, int max, out int run)
        {
            var best = -1;
            var fewest = int.MaxValue;
            for (var level = ready.Highest; level >= 0; level = ready.NextBelow(level))
            {
                var tenant = ready.OldestHeaders(level).GetValueOrDefault("tenant", "");
                var served = _served.GetValueOrDefault(tenant);
                if (served < fewest)
                {
                    (best, fewest) = (level, served);
                }
            }

            _served[ready.OldestHeaders(best).GetValueOrDefault("tenant", "")] = fewest + 1;
            run = 1;
            return best;
        }
    }
}
