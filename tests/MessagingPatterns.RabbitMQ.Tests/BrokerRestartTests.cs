using System.Globalization;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A broker restarted while messages flow, on a private broker (its own ports and state, started through
/// the project's script) so that no other test loses its broker.
/// </summary>
[Collection(BrokerFaults.Name)]
public sealed class BrokerRestartTests
{
    // Below the ephemeral port range: a client retrying a port in that range while nothing listens can end up
    // connected to itself and keep the port from the broker that restarts there.
    private const int PrivatePort = 25772;
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(90);

    [SkippableFact]
    public async Task BrokerRestartedWhileMessagesFlow_ClientsRecoverByThemselves_AndEveryAcceptedMessageIsDelivered()
    {
        RabbitMqBroker.RequireOrSkip();
        await RabbitMqBroker.ScriptAsync("start", PrivatePort);
        try
        {
            var uri = string.Create(CultureInfo.InvariantCulture, $"amqp://guest:guest@127.0.0.1:{PrivatePort}/");
            await using var scope = new StoreScope("restart", uri);
            var producer = scope.Create();
            var consumer = scope.Create(prefetch: 32);
            await using var flow = new MessageFlow(producer, consumer, count: 2_000);

            await flow.WaitForAcceptedAsync(500, s_patience);
            await RabbitMqBroker.ScriptAsync("stop", PrivatePort);
            var acceptedWhileDown = flow.Ledger.Accepted;
            await RabbitMqBroker.ScriptAsync("start", PrivatePort);
            await flow.WaitForAllDeliveredAsync(s_patience);

            flow.Ledger.Lost.Should().BeEmpty(flow.Ledger.ToString());
            flow.Ledger.Unexpected.Should().BeEmpty();
            flow.Ledger.Accepted.Should().Be(2_000);
            flow.Ledger.FailedPublishes.Should().BeGreaterThan(0, $"publishes while the broker was down must fail, not report success (accepted {acceptedWhileDown} before the restart)");
        }
        finally
        {
            await RabbitMqBroker.ScriptAsync("stop", PrivatePort);
        }
    }
}
