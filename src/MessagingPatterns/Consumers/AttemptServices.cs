using Microsoft.Extensions.DependencyInjection;

namespace MessagingPatterns.Consumers;

/// <summary>
/// The services of one handler attempt, as <see cref="MessageContext{TMessage}.Services"/> shows them: a DI scope
/// of its own, created on the first request that needs one. A singleton comes from the root provider (the same
/// instance the scope would give) without a scope; anything else (a scoped or transient service, a keyed one,
/// <see cref="IServiceProvider"/> itself) creates the attempt's scope and comes from it. An attempt whose handler
/// needs no scope costs none (a scope with its table of resolved services was about 130 B and a third of the
/// runtime's own time per message). One instance per worker, reused: <see cref="EndAsync"/> disposes the
/// attempt's scope, if one was created, so the next attempt starts with a fresh one.
/// </summary>
internal sealed class AttemptServices : IServiceProvider, IKeyedServiceProvider, ISupportRequiredService
{
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly ScopeFreeServices _scopeFree;
    private IServiceScope? _scope;

    /// <param name="scopeFactory">Creates the attempt's scope when it needs one.</param>
    /// <param name="scopeFree">Which services are served without a scope.</param>
    public AttemptServices(IServiceScopeFactory scopeFactory, ScopeFreeServices scopeFree)
    {
        _scopeFactory = scopeFactory;
        _scopeFree = scopeFree;
    }

    /// <summary>Whether this attempt created its scope (for tests).</summary>
    internal bool HasScope => Volatile.Read(ref _scope) is not null;

    /// <inheritdoc/>
    public object? GetService(Type serviceType) =>
        _scopeFree.TryGetService(serviceType, out var service) ? service : Scope.ServiceProvider.GetService(serviceType);

    /// <inheritdoc/>
    public object GetRequiredService(Type serviceType) =>
        _scopeFree.TryGetService(serviceType, out var service) && service is not null ? service : Scope.ServiceProvider.GetRequiredService(serviceType);

    /// <inheritdoc/>
    public object? GetKeyedService(Type serviceType, object? serviceKey) => Scope.ServiceProvider.GetKeyedService(serviceType, serviceKey);

    /// <inheritdoc/>
    public object GetRequiredKeyedService(Type serviceType, object? serviceKey) => Scope.ServiceProvider.GetRequiredKeyedService(serviceType, serviceKey);

    /// <summary>Ends the attempt: disposes its scope (and what the scope created), if it has one.</summary>
    public ValueTask EndAsync()
    {
        var scope = Interlocked.Exchange(ref _scope, null);
        return scope switch
        {
            null => ValueTask.CompletedTask,
            IAsyncDisposable asyncDisposable => asyncDisposable.DisposeAsync(),
            _ => Dispose(scope),
        };

        static ValueTask Dispose(IServiceScope scope)
        {
            scope.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private IServiceScope Scope => Volatile.Read(ref _scope) ?? CreateScope();

    private IServiceScope CreateScope()
    {
        var created = _scopeFactory.CreateScope();

        // A handler may resolve from several threads at once: one scope wins, the other is disposed unused.
        if (Interlocked.CompareExchange(ref _scope, created, null) is { } existing)
        {
            created.Dispose();
            return existing;
        }

        return created;
    }
}
