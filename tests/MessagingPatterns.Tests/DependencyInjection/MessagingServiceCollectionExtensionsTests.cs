using System.Collections.Concurrent;
using MessagingPatterns.DependencyInjection;
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
        var mine = MessagingPatterns.Stores.MessageStore.CreateInMemory<Order>("orders");
        services.AddKeyedSingleton("orders", mine);
        services.AddInMemoryQueue<Order>("orders");
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredKeyedService<IMessageStore<Order>>("orders").Should().BeSameAs(mine);
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
    public void AddInMemoryQueue_WithAnInvalidName_ThrowsNamingTheParameter(string name)
    {
        var act = () => new ServiceCollection().AddInMemoryQueue<Order>(name);

        act.Should().Throw<ArgumentException>().WithParameterName("name");
    }

    public sealed record Order(int Number);

    public sealed class Handled
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;

        public ConcurrentBag<Order> Orders { get; } = [];

        public ConcurrentBag<IServiceProvider> Scopes { get; } = [];

        public Task AllOf(int count)
        {
            Volatile.Write(ref _expected, count);
            Check();
            return _done.Task;
        }

        public void Add(Order order, IServiceProvider scope)
        {
            Orders.Add(order);
            Scopes.Add(scope);
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

    public sealed class OrderConsumer(Handled handled, IServiceProvider scope) : IConsumer<Order>
    {
        public Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
        {
            handled.Add(context.Body, scope);
            return Task.CompletedTask;
        }
    }
}
