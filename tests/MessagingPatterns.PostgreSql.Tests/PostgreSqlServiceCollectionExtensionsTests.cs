using MessagingPatterns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.PostgreSql.Tests;

public sealed class PostgreSqlServiceCollectionExtensionsTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private TestSchema? _schema;

    private TestSchema Schema => _schema ??= new TestSchema();

    [SkippableFact]
    public async Task AddPostgreSqlQueue_RegistersADurableStore_AProducer_AndTheOutboxStore()
    {
        var services = new ServiceCollection();
        services.AddPostgreSqlQueue<ConformanceMessage>("orders", Configure);
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredKeyedService<IMessageStore<ConformanceMessage>>("orders");
        await provider.GetRequiredService<IProducer<ConformanceMessage>>().PublishAsync(new ConformanceMessage(1));

        store.Should().BeAssignableTo<IDurableMessageStore<ConformanceMessage>>();
        provider.GetRequiredKeyedService<IPostgreSqlMessageStore<ConformanceMessage>>("orders").Should().BeSameAs(store);
        (await store.GetStatisticsAsync()).Ready.Should().Be(1);
    }

    [Fact]
    public async Task AddPostgreSqlQueue_WithoutAConnectionString_FailsAtStartNamingTheOption()
    {
        var services = new ServiceCollection();
        services.AddPostgreSqlQueue<ConformanceMessage>("orders", _ => { });
        await using var provider = services.BuildServiceProvider();

        var validateOnStart = provider.GetRequiredService<IStartupValidator>();

        validateOnStart.Invoking(v => v.Validate()).Should().Throw<OptionsValidationException>().WithMessage("*ConnectionString*");
    }

    [Fact]
    public void AddPostgreSqlQueue_WithANameAlreadyRegistered_ThrowsNamingTheParameter()
    {
        var services = new ServiceCollection();
        services.AddInMemoryQueue<ConformanceMessage>("orders");

        var act = () => services.AddPostgreSqlQueue<ConformanceMessage>("orders", options => options.ConnectionString = "Host=127.0.0.1");

        act.Should().Throw<ArgumentException>().WithParameterName("name");
    }

    [SkippableFact]
    public async Task AddPostgreSqlQueue_UnderALoadLevelingBufferThatRequiresNoDataLoss_IsAccepted_AndCarriesMessages()
    {
        var services = new ServiceCollection();
        services.AddPostgreSqlQueue<ConformanceMessage>("orders", Configure)
            .WithLoadLeveling(options =>
            {
                options.Capacity = 100;
                options.RequireNoDataLoss = true;
            });
        await using var provider = services.BuildServiceProvider();

        var buffer = provider.GetRequiredKeyedService<ILoadLevelingStore<ConformanceMessage>>("orders");
        await provider.GetRequiredService<IProducer<ConformanceMessage>>().PublishAsync(new ConformanceMessage(7));

        var lease = new Delivery<ConformanceMessage>[1];
        (await buffer.ReceiveAsync(lease, TimeSpan.FromMinutes(1)).AsTask().WaitAsync(s_patience)).Should().Be(1);
        lease[0].Message.Body.Number.Should().Be(7);
        buffer.GetSnapshot().Depth.Should().Be(1);
    }

    [SkippableFact]
    public async Task AddPostgreSqlQueue_AsTheDurableOverflowOfAnInMemoryBuffer_TakesTheSpill()
    {
        var services = new ServiceCollection();
        services.AddPostgreSqlQueue<ConformanceMessage>("orders-overflow", Configure);
        services.AddInMemoryQueue<ConformanceMessage>("orders")
            .WithLoadLeveling(
                options =>
                {
                    options.Capacity = 2;
                    options.FullMode = FullMode.Reject;
                },
                provider => provider.GetRequiredKeyedService<IPostgreSqlMessageStore<ConformanceMessage>>("orders-overflow"));
        await using var provider = services.BuildServiceProvider();

        var producer = provider.GetRequiredKeyedService<IProducer<ConformanceMessage>>("orders");
        for (var i = 0; i < 5; i++)
        {
            await producer.PublishAsync(new ConformanceMessage(i)).AsTask().WaitAsync(s_patience);
        }

        var overflow = provider.GetRequiredKeyedService<IPostgreSqlMessageStore<ConformanceMessage>>("orders-overflow");
        (await overflow.GetStatisticsAsync()).Ready.Should().Be(3, "what the buffer could not hold is committed to PostgreSQL");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }

    private void Configure(PostgreSqlStoreOptions options)
    {
        var configured = Schema.Options();
        options.ConnectionString = configured.ConnectionString;
        options.Schema = configured.Schema;
    }
}
