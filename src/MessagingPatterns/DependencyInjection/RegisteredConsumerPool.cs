using Microsoft.Extensions.Hosting;

namespace MessagingPatterns.DependencyInjection;

/// <summary>A consumer pool registered in a container, run by <see cref="ConsumerPoolsHostedService"/> and disposed with the container.</summary>
internal sealed class RegisteredConsumerPool(IHostedService pool) : IAsyncDisposable
{
    public IHostedService Pool { get; } = pool;

    public ValueTask DisposeAsync() => Pool is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
