namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// The control for <see cref="ClockSkewTests"/>: the same five-minute skew, given to stores on
/// <see cref="PostgreSqlClock.Process"/> (which reads the skewed clock for every lease), does make a consumer take
/// a live lease and keep an ended one from the others. So the skew the tests apply is real, and only the database clock
/// (<see cref="PostgreSqlClock.Database"/>, the default, which those tests use) is what protects the consumers.
/// </summary>
public sealed class ClockSkewControlTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_skew = TimeSpan.FromMinutes(5);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    [SkippableTheory]
    [InlineData("Process", true)]
    [InlineData("Database", false)]
    public async Task ConsumerAheadByFiveMinutes_TakesALiveLease_OnlyWhenTheStoreReadsTheProcessClock(string clock, bool steals)
    {
        var honest = Create(TimeProvider.System, clock);
        var ahead = Create(new SkewedTimeProvider(s_skew), clock);
        await honest.EnqueueAsync(new Message<int>(1, "live"));
        var held = await ReceiveOneAsync(honest, TimeSpan.FromMinutes(1));

        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var buffer = new Delivery<int>[1];
        var taken = 0;
        try
        {
            taken = await ahead.ReceiveAsync(buffer, TimeSpan.FromMinutes(1), giveUp.Token).AsTask().WaitAsync(s_patience);
        }
        catch (OperationCanceledException)
        {
        }

        taken.Should().Be(steals ? 1 : 0);
        (await honest.AckAsync(held.Lease)).Should().Be(!steals, "the holder keeps its lease unless it was taken");
    }

    [SkippableTheory]
    [InlineData("Process", true)]
    [InlineData("Database", false)]
    public async Task ALeaseTakenByAConsumerAheadByFiveMinutes_IsKeptAfterItEnded_OnlyWhenTheStoreReadsTheProcessClock(string clock, bool kept)
    {
        var ahead = Create(new SkewedTimeProvider(s_skew), clock);
        var honest = Create(TimeProvider.System, clock);
        await ahead.EnqueueAsync(new Message<int>(2, "ended"));
        await ReceiveOneAsync(ahead, TimeSpan.FromSeconds(1));

        // The one-second lease ends at once in real time; ended on the ahead clock, it would hold five minutes more.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var taken = 0;
        try
        {
            taken = await honest.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromMinutes(1), wait.Token).AsTask().WaitAsync(s_patience);
        }
        catch (OperationCanceledException)
        {
        }

        taken.Should().Be(kept ? 0 : 1);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }

    private IMessageStore<int> Create(TimeProvider time, string clock)
    {
        _schema ??= new TestSchema();
        var options = _schema.Options(clock == "Process" ? PostgreSqlClock.Process : PostgreSqlClock.Database);
        var store = PostgreSqlMessageStore.Create<int>("skew", options, timeProvider: time);
        _stores.Add(store);
        return store;
    }

    private static async Task<Delivery<int>> ReceiveOneAsync(IMessageStore<int> store, TimeSpan lease)
    {
        var buffer = new Delivery<int>[1];
        (await store.ReceiveAsync(buffer, lease).AsTask().WaitAsync(s_patience)).Should().Be(1);
        return buffer[0];
    }

    /// <summary>The system clock, off by a fixed amount, as on a machine whose clock drifted; timers run normally.</summary>
    private sealed class SkewedTimeProvider(TimeSpan skew) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + skew;
    }
}
