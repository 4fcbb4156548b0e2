using Microsoft.Extensions.Logging;
using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.Consumers;

/// <summary>
/// The line saying a worker stopped because its store was disposed is written once the worker has ended, so whoever
/// reacts to it (an operator, a health check waiting on the log) already sees the pool faulted.
/// </summary>
public sealed class StoreDisposedLogTests
{
    [Fact]
    public async Task WorkerStoppedByADisposedStore_IsLoggedWhenThePoolAlreadyReadsFaulted()
    {
        var store = MessageStore.CreateInMemory<int>($"disposed-{Guid.NewGuid():N}"[..20]);
        var logger = new StateAtLogTime();
        var consumer = new DelegateConsumer<int>((_, _) => Task.CompletedTask);
        await using var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => consumer, new ConsumerOptions { Concurrency = 1 }, logger: logger);
        logger.Pool = pool;
        await pool.StartAsync(CancellationToken.None).WaitAsync(Bounded.Patience);

        await store.DisposeAsync();

        (await logger.Logged.Task.WaitAsync(Bounded.Patience)).Should().Be(ConsumerPoolState.Faulted);
    }

    /// <summary>Reads the pool's state at the moment the worker-stopped line is written.</summary>
    private sealed class StateAtLogTime : ILogger<ConsumerWorkerPool<int>>
    {
        public ConsumerWorkerPool<int>? Pool { get; set; }

        public TaskCompletionSource<ConsumerPoolState> Logged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains("its store was disposed", StringComparison.Ordinal))
            {
                Logged.TrySetResult(Pool!.State);
            }
        }
    }
}
