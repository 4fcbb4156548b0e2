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
    public void AddMessageQueue_WithANullStore_ThrowsNamingIt() =>
        FluentActions.Invoking(() => new ServiceCollection().AddMessageQueue<int>((IMessageStore<int>)null!))
            .Should().Throw<ArgumentNullException>().WithParameterName("store");
}
