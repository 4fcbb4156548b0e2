using MessagingPatterns.Consumers;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Tests.Consumers;

public sealed class AttemptServicesTests : IAsyncDisposable
{
    private readonly ServiceCollection _collection = new();
    private ServiceProvider? _root;

    public ValueTask DisposeAsync() => _root?.DisposeAsync() ?? ValueTask.CompletedTask;

    [Fact]
    public async Task AttemptThatResolvesNothing_CreatesNoScope()
    {
        var scopes = new CountingScopeFactory(Build().GetRequiredService<IServiceScopeFactory>());
        var services = new AttemptServices(scopes, ScopeFreeServices.From(_collection, _root!));

        await services.EndAsync().Within();

        scopes.Created.Should().Be(0);
    }

    [Fact]
    public async Task Singleton_ComesFromTheRoot_WithoutAScope()
    {
        _collection.AddSingleton<Clock>();
        _collection.AddLogging();
        var root = Build();
        var services = Attempt(root);

        services.GetRequiredService<Clock>().Should().BeSameAs(root.GetRequiredService<Clock>());
        services.GetRequiredService<ILogger<AttemptServicesTests>>().Should().NotBeNull("an open generic singleton serves its closed types");

        services.HasScope.Should().BeFalse();
        await services.EndAsync().Within();
    }

    [Fact]
    public async Task ScopedService_CreatesTheAttemptsScopeOnce_WhichEndDisposes_AndTheNextAttemptGetsAFreshOne()
    {
        _collection.AddScoped<UnitOfWork>();
        var services = Attempt(Build());

        var first = services.GetRequiredService<UnitOfWork>();
        services.GetRequiredService<UnitOfWork>().Should().BeSameAs(first, "one scope per attempt");
        services.HasScope.Should().BeTrue();
        await services.EndAsync().Within();

        first.Disposed.Should().BeTrue();
        services.HasScope.Should().BeFalse();
        services.GetRequiredService<UnitOfWork>().Should().NotBeSameAs(first);
        await services.EndAsync().Within();
    }

    [Fact]
    public async Task LaterRegistrationOfAnotherLifetime_WinsOverASingleton()
    {
        _collection.AddSingleton<UnitOfWork>();
        _collection.AddScoped<UnitOfWork>();
        _collection.AddSingleton(typeof(IRepository<>), typeof(Repository<>));
        _collection.AddScoped<IRepository<int>, Repository<int>>();
        var services = Attempt(Build());

        services.GetRequiredService<UnitOfWork>();
        services.GetRequiredService<IRepository<int>>();

        services.HasScope.Should().BeTrue("both effective registrations are scoped");
        await services.EndAsync().Within();
    }

    [Fact]
    public async Task WithoutTheCollection_EveryServiceComesFromTheScope()
    {
        _collection.AddSingleton<Clock>();
        var services = new AttemptServices(Build().GetRequiredService<IServiceScopeFactory>(), ScopeFreeServices.None);

        services.GetRequiredService<Clock>().Should().NotBeNull();

        services.HasScope.Should().BeTrue();
        await services.EndAsync().Within();
    }

    private ServiceProvider Build() => _root = _collection.BuildServiceProvider(validateScopes: true);

    private AttemptServices Attempt(ServiceProvider root) =>
        new(root.GetRequiredService<IServiceScopeFactory>(), ScopeFreeServices.From(_collection, root));

    private sealed class Clock;

    private sealed class UnitOfWork : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    private interface IRepository<T>;

    private sealed class Repository<T> : IRepository<T>;

    private sealed class CountingScopeFactory(IServiceScopeFactory inner) : IServiceScopeFactory
    {
        public int Created { get; private set; }

        public IServiceScope CreateScope()
        {
            Created++;
            return inner.CreateScope();
        }
    }
}
