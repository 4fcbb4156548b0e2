using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Tests.DependencyInjection;

public sealed class SharedStoreRegistrationTests
{
    [Fact]
    public async Task AddMessageQueue_WithAnExistingStore_DoesNotDisposeIt_WhenOneOfTheContainersSharingItIsDisposed()
    {
        await using var store = MessageStore.CreateInMemory<int>("shared");
        var first = new ServiceCollection();
        first.AddMessageQueue(store);
        var second = new ServiceCollection();
        second.AddMessageQueue(store);
        await using var secondProvider = second.BuildServiceProvider();

        await using (var firstProvider = first.BuildServiceProvider())
        {
            await firstProvider.GetRequiredService<IProducer<int>>().PublishAsync(new Message<int>(1)).Within();
        }

        await secondProvider.GetRequiredKeyedService<IProducer<int>>("shared").PublishAsync(new Message<int>(2)).Within();
        (await store.GetStatisticsAsync()).Ready.Should().Be(2, "the store outlived the first container and took the second's message");
    }

    [Fact]
    public async Task AddMessageQueue_WithAnExistingPriorityStore_KeepsItsHandBack_SoPrefetchingConsumersAreNotWarned()
    {
        await using var store = MessageStore.CreatePriority<int>("shared-priority");
        var services = new ServiceCollection();
        services.AddMessageQueue<int>(store);
        await using var provider = services.BuildServiceProvider();
        var registered = provider.GetRequiredKeyedService<IMessageStore<int>>("shared-priority");
        var preemptible = registered.Should().BeAssignableTo<IPreemptibleStore<int>>("the store it borrows can hand back").Subject;

        await store.EnqueueAsync(new Message<int>(1)).Within();
        var buffer = new Delivery<int>[1];
        (await registered.ReceiveAsync(buffer, TimeSpan.FromMinutes(1)).AsTask().Within()).Should().Be(1);
        await store.EnqueueAsync(new Message<int>(2, priority: 2)).Within();
        (await preemptible.HasReadyAheadOfAsync(buffer[0].Message).AsTask().Within()).Should().BeTrue();
        (await preemptible.HandBackAsync([buffer[0].Lease]).AsTask().Within()).Should().Be(1);

        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var options = new ConsumerOptions { Concurrency = 1, PrefetchCount = 16 };
        await using var pool = new ConsumerWorkerPool<int>(registered, PoolFactory.Scopes, _ => new DelegateConsumer<int>((_, _) => Task.CompletedTask), options, logger: logger);
        await pool.StartAsync(CancellationToken.None);
        await pool.StopAsync(CancellationToken.None).Within();
        logger.Entries.Should().NotContain(e => e.Message.Contains("priority inversion", StringComparison.Ordinal));
    }

    [Fact]
    public void AddMessageQueue_WithANullStore_ThrowsNamingIt() =>
        FluentActions.Invoking(() => new ServiceCollection().AddMessageQueue<int>((IMessageStore<int>)null!))
            .Should().Throw<ArgumentNullException>().WithParameterName("store");
}
