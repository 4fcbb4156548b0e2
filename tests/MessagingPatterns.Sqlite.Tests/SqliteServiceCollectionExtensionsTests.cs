using MessagingPatterns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Sqlite.Tests;

public sealed class SqliteServiceCollectionExtensionsTests : IDisposable
{
    private readonly TempDatabase _database = new();

    [Fact]
    public async Task AddSqliteQueue_RegistersADurableStoreAndProducer()
    {
        var services = new ServiceCollection();
        services.AddSqliteQueue<ConformanceMessage>("orders", options => options.DatabasePath = _database.Path);
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredKeyedService<IMessageStore<ConformanceMessage>>("orders");
        await provider.GetRequiredService<IProducer<ConformanceMessage>>().PublishAsync(new ConformanceMessage(1));

        store.Should().BeAssignableTo<IDurableMessageStore<ConformanceMessage>>();
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task AddSqliteQueue_WithoutADatabase_FailsValidationNamingTheOption()
    {
        var services = new ServiceCollection();
        services.AddSqliteQueue<ConformanceMessage>("orders", _ => { });
        await using var provider = services.BuildServiceProvider();

        var act = () => provider.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().Get("orders");

        act.Should().Throw<OptionsValidationException>().WithMessage($"*{nameof(SqliteStoreOptions.DatabasePath)}*");
    }

    [Fact]
    public void AddSqliteQueue_WithANameAlreadyRegistered_ThrowsNamingTheParameter()
    {
        var services = new ServiceCollection();
        services.AddSqliteQueue<ConformanceMessage>("orders", options => options.DatabasePath = _database.Path);

        // Two message types on one table would each be delivered the other's messages.
        var act = () => services.AddSqliteQueue<string>("orders", options => options.DatabasePath = _database.Path);

        act.Should().Throw<ArgumentException>().WithParameterName("name").WithMessage("*'orders'*already registered*");
    }

    [Fact]
    public void AddSqliteQueue_WithTheNameOfAnInMemoryQueue_ThrowsNamingTheParameter()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<ConformanceMessage>("orders");

        var act = () => services.AddSqliteQueue<ConformanceMessage>("orders", options => options.DatabasePath = _database.Path);

        act.Should().Throw<ArgumentException>().WithParameterName("name");
    }

    [Fact]
    public async Task AddSqliteQueue_UnderALoadLevelingBufferThatRefusesIt_ClosesTheStore()
    {
        IMessageStore<ConformanceMessage>? sqlite = null;
        var services = new ServiceCollection();
        services.AddSqliteQueue<ConformanceMessage>("orders", options => options.DatabasePath = _database.Path)
            .DecorateStore((_, store) => sqlite = store)
            .WithLoadLeveling(
                options => options.RequireNoDataLoss = true,
                _ => MessageStore.CreateInMemory<ConformanceMessage>("orders-overflow"));
        await using var provider = services.BuildServiceProvider();

        var act = () => provider.GetRequiredKeyedService<IMessageStore<ConformanceMessage>>("orders");

        act.Should().Throw<OptionsValidationException>().WithMessage("*not durable*");
        await FluentActions.Awaiting(() => sqlite!.EnqueueAsync(new Message<ConformanceMessage>(new ConformanceMessage(1))).AsTask())
            .Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task WithSqliteOverflow_SpillsAFullBufferToSqlite_AndDrainsBackInOrder()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<int>("orders")
            .WithLoadLeveling(options =>
            {
                options.Capacity = 2;
                options.FullMode = FullMode.Reject;
            })
            .WithSqliteOverflow(options => options.DatabasePath = _database.Path);
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredKeyedService<ILoadLevelingStore<int>>("orders");

        for (var i = 0; i < 5; i++)
        {
            await store.EnqueueAsync(new Message<int>(i, $"m-{i}")).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }

        store.GetSnapshot().Overflowed.Should().Be(3, "a full buffer spills to SQLite instead of rejecting");
        var received = new List<string>();
        var lease = new Delivery<int>[1];
        while (received.Count < 5)
        {
            await store.ReceiveAsync(lease, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            received.Add(lease[0].Message.Id);
            (await store.AckAsync(lease[0].Lease)).Should().BeTrue();
        }

        received.Should().Equal("m-0", "m-1", "m-2", "m-3", "m-4");
    }

    public void Dispose() => _database.Dispose();
}
