using Microsoft.Extensions.Options;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>A connection string's password appears in no exception and no log line of the store.</summary>
public sealed class SecretHandlingTests
{
    private const string Password = "Tr0ub4dor-and-3-secret";
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task WrongPassword_FailsPublishAndReceive_WithoutThePasswordInExceptionsOrLogs()
    {
        PostgresServer.Require();
        var logger = new ListLogger();
        var options = new PostgreSqlStoreOptions
        {
            ConnectionString = PostgresServer.ConnectionString + $";Password={Password}",
            PollInterval = TimeSpan.FromMilliseconds(50),
        };
        await using var store = PostgreSqlMessageStore.Create<int>("secret", options, logger: logger);

        var publish = await FluentActions.Awaiting(() => store.EnqueueAsync(new Message<int>(1)).AsTask().WaitAsync(s_patience))
            .Should().ThrowAsync<Exception>();
        var statistics = await FluentActions.Awaiting(() => store.GetStatisticsAsync().AsTask().WaitAsync(s_patience))
            .Should().ThrowAsync<Exception>();

        // A receive retries the schema and starts the listener, which logs its failed connections.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await FluentActions.Awaiting(() => store.ReceiveAsync(new Delivery<int>[1], TimeSpan.FromSeconds(5), stop.Token).AsTask().WaitAsync(s_patience))
            .Should().ThrowAsync<Exception>();

        publish.Which.ToString().Should().NotContain(Password);
        statistics.Which.ToString().Should().NotContain(Password);
        logger.Lines.Should().NotBeEmpty("the failures are reported to the operator");
        logger.Lines.Should().AllSatisfy(line => line.Should().NotContain(Password));
    }

    [Fact]
    public void InvalidConnectionString_FailsValidation_WithoutThePassword()
    {
        var options = new PostgreSqlStoreOptions { ConnectionString = $"Host=127.0.0.1;Password={Password};Port=not-a-number" };

        var act = () => PostgreSqlMessageStore.Create<int>("secret", options);

        act.Should().Throw<OptionsValidationException>().Which.ToString().Should().Contain("ConnectionString").And.NotContain(Password);
    }
}
