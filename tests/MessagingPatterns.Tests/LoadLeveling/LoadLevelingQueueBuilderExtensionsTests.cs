using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.LoadLeveling;

public sealed class LoadLevelingQueueBuilderExtensionsTests
{
    private static readonly TimeSpan s_patience = Pump.Patience;

    [Fact]
    public async Task WithLoadLeveling_RegistersTheBufferAsTheQueuesStoreAndForSnapshots()
    {
        using var host = Build(services => services.AddInMemoryQueue<int>("orders").WithLoadLeveling(o =>
        {
            o.Capacity = 5;
            o.FullMode = FullMode.Reject;
        }));
        await host.StartAsync().WaitAsync(s_patience);

        var producer = host.Services.GetRequiredKeyedService<IProducer<int>>("orders");
        for (var i = 0; i < 5; i++)
        {
            await producer.PublishAsync(new Message<int>(i));
        }

        await FluentActions.Awaiting(() => producer.PublishAsync(new Message<int>(5)).AsTask()).Should().ThrowAsync<QueueFullException>();
        var snapshot = host.Services.GetRequiredKeyedService<ILoadLevelingStore<int>>("orders").GetSnapshot();
        snapshot.Depth.Should().Be(5);
        snapshot.Rejected.Should().Be(1);
        await host.StopAsync().WaitAsync(s_patience);
    }

    [Fact]
    public async Task WithLoadLeveling_WithInvalidOptions_RefusesToStartNamingTheOptions()
    {
        using var host = Build(services => services.AddInMemoryQueue<int>("orders").WithLoadLeveling(o =>
        {
            o.Capacity = 0;
            o.MessagesPerSecond = 0;
            o.Burst = 0;
        }));

        var error = (await FluentActions.Awaiting(() => host.StartAsync().WaitAsync(s_patience)).Should().ThrowAsync<OptionsValidationException>()).Which;

        error.Message.Should().Contain("Capacity").And.Contain("MessagesPerSecond").And.Contain("Burst");
    }

    [Fact]
    public async Task WithLoadLeveling_RequiringNoDataLossWithADropMode_RefusesToStartSayingWhy()
    {
        using var host = Build(services => services.AddInMemoryQueue<int>("orders").WithLoadLeveling(o =>
        {
            o.FullMode = FullMode.DropOldest;
            o.OnDropped = _ => { };
            o.RequireNoDataLoss = true;
        }));

        var error = (await FluentActions.Awaiting(() => host.StartAsync().WaitAsync(s_patience)).Should().ThrowAsync<OptionsValidationException>()).Which;

        error.Message.Should().Contain("RequireNoDataLoss").And.Contain("drops messages");
    }

    [Fact]
    public async Task WithLoadLeveling_RequiringNoDataLossOverAnInMemoryStore_RefusesToStartSayingWhy()
    {
        using var host = Build(services => services.AddInMemoryQueue<int>("orders").WithLoadLeveling(o => o.RequireNoDataLoss = true));

        var error = (await FluentActions.Awaiting(() => host.StartAsync().WaitAsync(s_patience)).Should().ThrowAsync<OptionsValidationException>()).Which;

        error.Message.Should().Contain("'orders'").And.Contain("not durable");
    }

    [Fact]
    public async Task WithLoadLeveling_RequiringNoDataLossOverADurableStore_Starts()
    {
        using var host = Build(services => services
            .AddMessageQueue<int>("orders", (provider, name) => new DurableTestStore<int>(MessageStore.CreateInMemory<int>(name, timeProvider: provider.GetRequiredService<TimeProvider>())))
            .WithLoadLeveling(o => o.RequireNoDataLoss = true));

        await host.StartAsync().WaitAsync(s_patience);

        host.Services.GetRequiredKeyedService<ILoadLevelingStore<int>>("orders").GetSnapshot().Capacity.Should().Be(10_000);
        await host.StopAsync().WaitAsync(s_patience);
    }

    [Fact]
    public async Task WithLoadLeveling_RefusedAtStart_DisposesTheStoresAlreadyBuilt()
    {
        DurableTestStore<int>? inner = null;
        IMessageStore<int>? overflow = null;
        using var host = Build(services => services
            .AddMessageQueue<int>("orders", (_, name) => inner = new DurableTestStore<int>(MessageStore.CreateInMemory<int>(name)))
            .WithLoadLeveling(o => o.RequireNoDataLoss = true, _ => overflow = MessageStore.CreateInMemory<int>("orders-overflow")));

        var error = (await FluentActions.Awaiting(() => host.StartAsync().WaitAsync(s_patience)).Should().ThrowAsync<OptionsValidationException>()).Which;

        error.Message.Should().Contain("overflow store").And.Contain("not durable");
        await FluentActions.Awaiting(() => inner!.EnqueueAsync(new Message<int>(1)).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => overflow!.EnqueueAsync(new Message<int>(1)).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task WithLoadLeveling_WithAnOverflowStore_SpillsToIt()
    {
        using var host = Build(services => services.AddInMemoryQueue<int>("orders").WithLoadLeveling(
            o => o.Capacity = 1,
            provider => MessageStore.CreateInMemory<int>("orders-overflow", timeProvider: provider.GetRequiredService<TimeProvider>())));
        await host.StartAsync().WaitAsync(s_patience);
        var producer = host.Services.GetRequiredKeyedService<IProducer<int>>("orders");

        await producer.PublishAsync(new Message<int>(1)).AsTask().WaitAsync(s_patience);
        await producer.PublishAsync(new Message<int>(2)).AsTask().WaitAsync(s_patience);

        host.Services.GetRequiredKeyedService<ILoadLevelingStore<int>>("orders").GetSnapshot().Overflowed.Should().Be(1);
        await host.StopAsync().WaitAsync(s_patience);
    }

    private static IHost Build(Action<IServiceCollection> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        configure(builder.Services);
        return builder.Build();
    }
}
