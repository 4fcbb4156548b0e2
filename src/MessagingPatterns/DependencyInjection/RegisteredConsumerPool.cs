using MessagingPatterns.Consumers;

namespace MessagingPatterns.DependencyInjection;

/// <summary>A consumer pool registered in a container, run by <see cref="ConsumerPoolsHostedService"/> and disposed with the container.</summary>
internal sealed class RegisteredConsumerPool(IConsumerPoolStatus pool) : IAsyncDisposable
{
    public IConsumerPoolStatus Pool { get; } = pool;

    public ValueTask DisposeAsync() => Pool is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
