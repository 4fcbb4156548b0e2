using System.Collections.Concurrent;
using System.Threading.Channels;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Tests.DependencyInjection;

public sealed class MessagingServiceCollectionExtensionsTests
{
    [Fact]
    public async Task AddInMemoryQueue_WithConsumer_HandlesPublishedMessagesInTheHost()
    {
        var handled = new Handled();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(handled);
        builder.Services.AddInMemoryQueue<Order>("orders")
            .AddConsumer<OrderConsumer>(options => options.Concurrency = 2);
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        for (var i = 0; i < 10; i++)
        {
            await producer.PublishAsync(new Order(i));
        }

        await handled.AllOf(10).Within();
        await host.StopAsync().Within();

        handled.Orders.Select(o => o.Number).Order().Should().Equal(Enumerable.Range(0, 10));
        handled.Scopes.Distinct().Should().HaveCount(10, "each message gets its own DI scope");
    }

    [Fact]
    public async Task AddConsumer_DisposableHandlerWithScopedDependency_GetsFreshOnesPerMessageAndDisposesThem()
    {
        var lifetimes = new Lifetimes();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(lifetimes);
        builder.Services.AddScoped<UnitOfWork>();
        builder.Services.AddInMemoryQueue<Order>("orders").AddConsumer<DisposableOrderConsumer>();
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        for (var i = 0; i < 5; i++)
        {
            await producer.PublishAsync(new Order(i));
        }

        await lifetimes.DisposedHandlers(5).Within();
        await host.StopAsync().Within();

        lifetimes.Handlers.Distinct().Should().HaveCount(5, "each message gets a new handler");
        lifetimes.UnitsOfWork.Distinct().Should().HaveCount(5, "scoped dependencies are per message");
        lifetimes.UnitsOfWork.Should().AllSatisfy(unit => unit.Disposed.Should().BeTrue("the message's scope disposed it"));
    }

    [Fact]
    public async Task AddConsumer_PlainHandlerWithScopedAndSingletonDependencies_GetsAScopePerMessage_AndTheRootsSingleton()
    {
        var units = new UnitsSeen(5);
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(units);
        builder.Services.AddScoped<UnitOfWork>();
        builder.Services.AddInMemoryQueue<Order>("orders").AddConsumer<PlainOrderConsumer>(options => options.Concurrency = 1);
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        for (var i = 0; i < 5; i++)
        {
            await producer.PublishAsync(new Order(i));
        }

        await units.All.Within();
        await host.StopAsync().Within();

        units.Units.Distinct().Should().HaveCount(5, "scoped dependencies are per message");
        units.Units.Should().AllSatisfy(unit => unit.Disposed.Should().BeTrue("the message's scope disposed it"));
        units.Singletons.Should().AllSatisfy(s => s.Should().BeSameAs(host.Services.GetRequiredService<UnitsSeen>()));
    }

    [Fact]
    public async Task AddConsumer_TwoPoolsWithDifferentHandlers_EachRunsItsOwnHandler()
    {
        var gate = new HandlerGate();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(gate);
        builder.Services.AddInMemoryQueue<Order>("orders")
            .AddConsumer<ConsumerA>(options => options.Concurrency = 1)
            .AddConsumer<ConsumerB>(options => options.Concurrency = 1);
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        await producer.PublishAsync(new Order(1));
        await producer.PublishAsync(new Order(2));

        // Each pool's one worker holds its message until the gate opens, so each pool takes one of the two.
        var first = await gate.Started.Reader.ReadAsync().AsTask().Within();
        var second = await gate.Started.Reader.ReadAsync().AsTask().Within();
        gate.Open();
        await host.StopAsync().Within();

        new[] { first.Handler, second.Handler }.Should().BeEquivalentTo([nameof(ConsumerA), nameof(ConsumerB)]);
    }

    [Fact]
    public async Task AddLevelConsumer_WithADifferentHandlerPerLevel_RunsEachLevelsOwnHandler()
    {
        var gate = new HandlerGate();
        gate.Open();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(gate);
        builder.Services.AddInMemoryMultiQueue<Order>("orders", options => options.Levels = 2)
            .AddLevelConsumer<Order, ConsumerA>(1)
            .AddLevelConsumer<Order, ConsumerB>(0);
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        await producer.PublishAsync(new Order(1), priority: 1);
        await producer.PublishAsync(new Order(0), priority: 0);
        var handled = new[]
        {
            await gate.Started.Reader.ReadAsync().AsTask().Within(),
            await gate.Started.Reader.ReadAsync().AsTask().Within(),
        };
        await host.StopAsync().Within();

        handled.Should().BeEquivalentTo([(nameof(ConsumerA), 1), (nameof(ConsumerB), 0)]);
    }

    [Fact]
    public async Task AddConsumer_TwoPools_EachValidatesItsOwnOptionsAtStart()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(new Handled());
        builder.Services.AddInMemoryQueue<Order>("orders")
            .AddConsumer<OrderConsumer>(options => options.Concurrency = 0)
            .AddConsumer<OrderConsumer>(options => options.Concurrency = 1);
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*Concurrency*");
    }

    [Fact]
    public async Task AddConsumer_WithTheHandlerAlreadyRegistered_KeepsThatRegistration()
    {
        var handled = new Handled();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(handled);
        builder.Services.AddSingleton<OrderConsumer>();
        builder.Services.AddInMemoryQueue<Order>("orders").AddConsumer<OrderConsumer>();
        using var host = builder.Build();

        await host.StartAsync().Within();
        var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
        for (var i = 0; i < 3; i++)
        {
            await producer.PublishAsync(new Order(i));
        }

        await handled.AllOf(3).Within();
        await host.StopAsync().Within();

        handled.Handlers.Distinct().Should().ContainSingle("the handler was registered as a singleton");
    }

    [Fact]
    public void AddInMemoryQueue_FirstQueueOfAType_IsAlsoTheUnkeyedDefault()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<Order>("first");
        services.AddInMemoryQueue<Order>("second");
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IMessageStore<Order>>().Name.Should().Be("first");
        provider.GetRequiredService<IProducer<Order>>().QueueName.Should().Be("first");
        provider.GetRequiredKeyedService<IMessageStore<Order>>("second").Name.Should().Be("second");
        provider.GetRequiredKeyedService<IMessageStore<Order>>("second")
            .Should().NotBeSameAs(provider.GetRequiredKeyedService<IMessageStore<Order>>("first"));
    }

    [Fact]
    public void AddMessageQueue_AfterAUserRegistration_KeepsTheUsersStore()
    {
        var services = new ServiceCollection();
        var mine = MessageStore.CreateInMemory<Order>("orders");
        services.AddKeyedSingleton("orders", mine);
        services.AddInMemoryQueue<Order>("orders");
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredKeyedService<IMessageStore<Order>>("orders").Should().BeSameAs(mine);
    }

    [Theory]
    [InlineData("in-memory")]
    [InlineData("priority")]
    [InlineData("multi-queue")]
    [InlineData("custom")]
    public void AddQueue_WithANameAlreadyRegistered_ThrowsNamingTheParameter(string kind)
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<Order>("orders");

        // Another message type, so only the name is shared.
        var act = () => AddQueue<int>(services, kind, "orders");

        act.Should().Throw<ArgumentException>().WithParameterName("name").WithMessage("*'orders'*already registered*");
    }

    [Fact]
    public void AddInMemoryQueue_TwiceWithOneName_ThrowsAndKeepsTheFirstQueuesOptions()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<Order>("orders", options => options.Capacity = 1);

        var act = () => services.AddInMemoryQueue<Order>("orders", options => options.Capacity = 5);

        act.Should().Throw<ArgumentException>().WithParameterName("name");
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IOptionsMonitor<InMemoryQueueOptions>>().Get("orders").Capacity.Should().Be(1);
    }

    [Fact]
    public async Task AddConsumer_WithInvalidOptions_RefusesToStartNamingTheOption()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(new Handled());
        builder.Services.AddInMemoryQueue<Order>("orders")
            .AddConsumer<OrderConsumer>(options => options.Concurrency = 0);
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*Concurrency*");
    }

    [Fact]
    public async Task AddInMemoryQueue_WithInvalidCapacity_RefusesToStartNamingTheOption()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddInMemoryQueue<Order>("orders", options => options.Capacity = 0);
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*Capacity*");
    }

    [Theory]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("has space")]
    [InlineData("drop;table")]
    [InlineData("orders\n")]
    public void AddInMemoryQueue_WithAnInvalidName_ThrowsNamingTheParameter(string name)
    {
        var act = () => new ServiceCollection().AddInMemoryQueue<Order>(name);

        act.Should().Throw<ArgumentException>().WithParameterName("name");
    }

    private static MessageQueueBuilder<T> AddQueue<T>(IServiceCollection services, string kind, string name) => kind switch
    {
        "in-memory" => services.AddInMemoryQueue<T>(name),
        "priority" => services.AddInMemoryPriorityQueue<T>(name),
        "multi-queue" => services.AddInMemoryMultiQueue<T>(name),
        _ => services.AddMessageQueue<T>(name, static (_, queue) => MessageStore.CreateInMemory<T>(queue)),
    };

    public sealed record Order(int Number);

    public sealed class Handled
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;

        public ConcurrentBag<Order> Orders { get; } = [];

        public ConcurrentBag<IServiceProvider> Scopes { get; } = [];

        public ConcurrentBag<object> Handlers { get; } = [];

        public Task AllOf(int count)
        {
            Volatile.Write(ref _expected, count);
            Check();
            return _done.Task;
        }

        public void Add(Order order, IServiceProvider scope, object handler)
        {
            Orders.Add(order);
            Scopes.Add(scope);
            Handlers.Add(handler);
            Check();
        }

        private void Check()
        {
            if (Orders.Count >= Volatile.Read(ref _expected))
            {
                _done.TrySetResult();
            }
        }
    }

    public sealed class Lifetimes
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;
        private int _disposed;

        public ConcurrentBag<DisposableOrderConsumer> Handlers { get; } = [];

        public ConcurrentBag<UnitOfWork> UnitsOfWork { get; } = [];

        public Task DisposedHandlers(int count)
        {
            Volatile.Write(ref _expected, count);
            Check();
            return _done.Task;
        }

        public void HandlerDisposed()
        {
            Interlocked.Increment(ref _disposed);
            Check();
        }

        private void Check()
        {
            if (Volatile.Read(ref _disposed) >= Volatile.Read(ref _expected))
            {
                _done.TrySetResult();
            }
        }
    }

    public sealed class UnitOfWork : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    public sealed class UnitsSeen(int expected)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<UnitOfWork> Units { get; } = [];

        public ConcurrentQueue<UnitsSeen> Singletons { get; } = [];

        public Task All => _all.Task;

        public void Add(UnitOfWork unit, UnitsSeen singleton)
        {
            Units.Enqueue(unit);
            Singletons.Enqueue(singleton);
            if (Units.Count == expected)
            {
                _all.TrySetResult();
            }
        }
    }

    public sealed class PlainOrderConsumer(UnitsSeen units, UnitOfWork unitOfWork) : IConsumer<Order>
    {
        public Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
        {
            units.Add(unitOfWork, units);
            return Task.CompletedTask;
        }
    }

    public sealed class DisposableOrderConsumer(Lifetimes lifetimes, UnitOfWork unitOfWork) : IConsumer<Order>, IDisposable
    {
        public Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
        {
            lifetimes.Handlers.Add(this);
            lifetimes.UnitsOfWork.Add(unitOfWork);
            return Task.CompletedTask;
        }

        public void Dispose() => lifetimes.HandlerDisposed();
    }

    public sealed class OrderConsumer(Handled handled, IServiceProvider scope) : IConsumer<Order>
    {
        public Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
        {
            handled.Add(context.Body, scope, this);
            return Task.CompletedTask;
        }
    }

    /// <summary>Reports which handler started each message, at which priority; handlers finish once the gate opens.</summary>
    public sealed class HandlerGate
    {
        private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Channel<(string Handler, int Priority)> Started { get; } = Channel.CreateUnbounded<(string, int)>();

        public Task Opened => _opened.Task;

        public void Open() => _opened.TrySetResult();
    }

    public abstract class GatedOrderConsumer(HandlerGate gate) : IConsumer<Order>
    {
        public async Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
        {
            gate.Started.Writer.TryWrite((GetType().Name, context.Priority));
            await gate.Opened.WaitAsync(cancellationToken);
        }
    }

    public sealed class ConsumerA(HandlerGate gate) : GatedOrderConsumer(gate);

    public sealed class ConsumerB(HandlerGate gate) : GatedOrderConsumer(gate);
}
