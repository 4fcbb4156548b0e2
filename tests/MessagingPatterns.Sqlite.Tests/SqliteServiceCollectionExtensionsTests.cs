using MessagingPatterns.Testing;
using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Stores;
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

    public void Dispose() => _database.Dispose();
}
