namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// Consumers whose machine clocks are minutes apart share one queue (RELIABILITY.md, scenario 14). Leases are
/// timed by the database server's clock, so the skewed consumer neither takes a live lease nor keeps a dead one.
/// </summary>
public sealed class ClockSkewTests : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_skew = TimeSpan.FromMinutes(5);
    private readonly List<IAsyncDisposable> _stores = [];
    private TestSchema? _schema;

    [SkippableFact]
    public async Task ConsumerAheadByFiveMinutes_DoesNotTakeALiveLease()
    {
        var honest = Create(TimeProvider.System);
        var ahead = Create(new SkewedTimeProvider(s_skew));
        await honest.EnqueueAsync(new Message<int>(1, "live"));
        var held = await ReceiveOneAsync(honest, TimeSpan.FromMinutes(1));

        // On its own clock the lease ended four minutes ago; on the server's it has a minute to run.
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var steal = () => ahead.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromMinutes(1), giveUp.Token).AsTask().WaitAsync(s_patience);

        await steal.Should().ThrowAsync<OperationCanceledException>("the lease is live on the server's clock");
        (await honest.AckAsync(held.Lease)).Should().BeTrue("the holder still owns its lease");
    }

    [SkippableFact]
    public async Task ConsumerAheadByFiveMinutes_DoesNotKeepALeaseThatEnded()
    {
        var ahead = Create(new SkewedTimeProvider(s_skew));
        var behind = Create(new SkewedTimeProvider(-s_skew));
        await ahead.EnqueueAsync(new Message<int>(2, "dead"));
        var expired = await ReceiveOneAsync(ahead, TimeSpan.FromSeconds(1));

        // The consumer behind would wait ten minutes if the ahead consumer's clock set the lease's end.
        var again = await ReceiveOneAsync(behind, TimeSpan.FromMinutes(1));

        again.Message.Id.Should().Be("dead");
        again.DeliveryCount.Should().Be(2);
        (await ahead.AckAsync(expired.Lease)).Should().BeFalse("its lease ended on the server's clock");
        (await ahead.RenewLeaseAsync(expired.Lease, TimeSpan.FromMinutes(1))).Should().BeFalse();
        (await behind.AckAsync(again.Lease)).Should().BeTrue();
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

    private IMessageStore<int> Create(TimeProvider clock)
    {
        _schema ??= new TestSchema();
        var store = PostgreSqlMessageStore.Create<int>("skew", _schema.Options(), timeProvider: clock);
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
