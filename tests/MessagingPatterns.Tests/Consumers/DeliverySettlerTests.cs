using MessagingPatterns.Consumers;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Consumers;

public sealed class DeliverySettlerTests : IAsyncDisposable
{
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly IMessageStore<int> _store;
    private readonly CancellationTokenSource _shutdown = new();

    public DeliverySettlerTests() => _store = MessageStore.CreateInMemory<int>($"settle-{Guid.NewGuid():N}", timeProvider: _time);

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _shutdown.Dispose();
    }

    [Fact]
    public async Task Success_IsAcknowledged()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions());

        await settler.SettleAsync(context, delivery, failure: null).Within();

        (await _store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task Failure_BeforeTheLastAttempt_IsReleasedAfterTheRedeliveryDelay()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions { MaxDeliveryAttempts = 3, RedeliveryDelay = TimeSpan.FromSeconds(10) });

        await settler.SettleAsync(context, delivery, new InvalidOperationException("boom")).Within();

        (await _store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 1, 0, 0));
        _time.Advance(TimeSpan.FromSeconds(10));
        var again = new Delivery<int>[1];
        (await _store.ReceiveAsync(again, s_lease).Within()).Should().Be(1);
        again[0].DeliveryCount.Should().Be(2);
    }

    [Fact]
    public async Task Failure_OnTheLastAttempt_IsDeadLetteredWithTheExceptionAsReason()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions { MaxDeliveryAttempts = 1 });

        await settler.SettleAsync(context, delivery, new InvalidOperationException("boom")).Within();

        (await _store.GetDeadLettersAsync(1)).Single().Reason.Should().Be("System.InvalidOperationException: boom");
    }

    [Fact]
    public async Task RetryAskedByTheHandler_IsReleasedAfterItsDelay_ButDeadLetteredOnTheLastAttempt()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions { MaxDeliveryAttempts = 2 });
        context.RetryAfter(TimeSpan.FromMinutes(2));

        await settler.SettleAsync(context, delivery, failure: null).Within();

        (await _store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 1, 0, 0));
        _time.Advance(TimeSpan.FromMinutes(2));
        var second = await ReceiveAsync(context);
        context.RetryAfter(TimeSpan.FromMinutes(2));

        await settler.SettleAsync(context, second, failure: null).Within();

        (await _store.GetDeadLettersAsync(1)).Single().Reason.Should().Contain("asked for a retry on the last of 2 delivery attempts");
    }

    [Fact]
    public async Task DeadLetterAskedByTheHandler_IsDeadLetteredWithItsReason()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions());
        context.DeadLetter("not for us");

        await settler.SettleAsync(context, delivery, failure: null).Within();

        (await _store.GetDeadLettersAsync(1)).Single().Reason.Should().Be("not for us");
    }

    [Fact]
    public async Task Failure_AfterShutdownCancelledTheHandlers_IsGivenBackAtOnce_EvenOnTheLastAttempt()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions { MaxDeliveryAttempts = 1, RedeliveryDelay = TimeSpan.FromMinutes(1) });
        await _shutdown.CancelAsync();

        await settler.SettleAsync(context, delivery, new OperationCanceledException()).Within();

        (await _store.GetStatisticsAsync()).Should().Be(new StoreStatistics(1, 0, 0, 0));
    }

    [Fact]
    public async Task StaleLease_CountsALostLease_AndLeavesTheRedeliveredCopyAlone()
    {
        var (settler, context, delivery) = await DeliveredAsync(new ConsumerOptions { LeaseDuration = s_lease });
        using var lost = new CounterProbe("messagingpatterns.lease_lost", _store.Name);
        _time.Advance(s_lease + TimeSpan.FromSeconds(1));
        var redelivered = new Delivery<int>[1];
        (await _store.ReceiveAsync(redelivered, s_lease).Within()).Should().Be(1, "the lease ended and another consumer took the message");

        await settler.SettleAsync(context, delivery, failure: null).Within();

        lost.Total.Should().Be(1);
        (await _store.GetStatisticsAsync()).InFlight.Should().Be(1, "the redelivered copy is not acknowledged by the stale lease");
    }

    [Fact]
    public async Task DeliveryOverTheAttemptsAllowed_IsDeadLetteredWithoutAHandler()
    {
        var settler = Settler(new ConsumerOptions { MaxDeliveryAttempts = 1 });
        await _store.EnqueueAsync(new Message<int>(7));
        var context = new MessageContext<int>(_store.Name);
        var first = await ReceiveAsync(context);
        settler.IsOverAttempts(first).Should().BeFalse();
        await _store.ReleaseAsync(first.Lease);
        var second = await ReceiveAsync(context);
        settler.IsOverAttempts(second).Should().BeTrue();

        await settler.DeadLetterUnsettledAsync(second).Within();

        (await _store.GetDeadLettersAsync(1)).Single().Reason.Should().StartWith("Delivered 2 times, over the 1 allowed");
    }

    [Fact]
    public async Task Unstarted_AreReleasedForOthersAtOnce()
    {
        var settler = Settler(new ConsumerOptions());
        await _store.EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]);
        var buffer = new Delivery<int>[2];
        (await _store.ReceiveAsync(buffer, s_lease).Within()).Should().Be(2);

        await settler.ReleaseUnstartedAsync(buffer).Within();

        (await _store.GetStatisticsAsync()).Should().Be(new StoreStatistics(2, 0, 0, 0));
    }

    private DeliverySettler<int> Settler(ConsumerOptions options) => new(_store, options, NullLogger.Instance, QueueTelemetry.For(_store), _shutdown.Token);

    private async Task<(DeliverySettler<int> Settler, MessageContext<int> Context, Delivery<int> Delivery)> DeliveredAsync(ConsumerOptions options)
    {
        await _store.EnqueueAsync(new Message<int>(42));
        var context = new MessageContext<int>(_store.Name);
        return (Settler(options), context, await ReceiveAsync(context));
    }

    private async Task<Delivery<int>> ReceiveAsync(MessageContext<int> context)
    {
        var buffer = new Delivery<int>[1];
        (await _store.ReceiveAsync(buffer, s_lease).Within()).Should().Be(1);
        context.Reset(buffer[0]);
        context.ResetSettlement();
        return buffer[0];
    }
}
