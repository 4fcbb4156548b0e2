using System.Text.RegularExpressions;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.Tests.Support;
using Polly;

namespace MessagingPatterns.Tests.Consumers;

public sealed partial class RedactionTests
{
    private const string Secret = "jane.doe@example.com";

    [Fact]
    public async Task Redact_RewritesTheDeadLetterReason_AndTheLoggedExceptions_KeepingTheirTypeAndStackTrace()
    {
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var (reason, logged) = await DeadLetterAFailureAsync(logger, text => Email().Replace(text, "[email]"));

        reason.Should().Be("System.InvalidOperationException: No customer [email]; see inner.");
        logged.Should().NotBeEmpty();
        logger.Entries.Should().NotContain(e => e.Message.Contains(Secret, StringComparison.Ordinal) || (e.Exception != null && e.Exception.ToString().Contains(Secret, StringComparison.Ordinal)));
        var failure = logged[0];
        failure.Message.Should().Be("No customer [email]; see inner.");
        failure.InnerException!.Message.Should().Be("lookup of [email] timed out");
        failure.ToString().Should().StartWith("System.InvalidOperationException: No customer [email]").And.Contain(nameof(ThrowWithSecret), "the stack trace is kept");
        logger.Properties.Should().Contain(p => Equals(p.GetValueOrDefault("OriginalExceptionType"), "System.InvalidOperationException"), "a structured sink reports the stand-in's type, so the original's is in the entry");
    }

    [Fact]
    public void RedactedAggregate_KeepsEveryInnerException_EachRedacted()
    {
        var aggregate = new AggregateException("two lookups failed", new TimeoutException($"lookup of {Secret} timed out"), new ArgumentException($"no {Secret}"));

        var logged = new Redaction(text => Email().Replace(text, "[email]")).ForLog(aggregate).ToString();

        logged.Should().Contain("System.TimeoutException: lookup of [email] timed out").And.Contain("System.ArgumentException: no [email]").And.NotContain(Secret);
    }

    [Fact]
    public async Task Redact_ThatThrows_HidesTheWholeText()
    {
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var (reason, logged) = await DeadLetterAFailureAsync(logger, _ => throw new FormatException("the hook is broken"));

        reason.Should().Be("[redaction failed]");
        logged[0].Message.Should().Be("[redaction failed]");
    }

    [Fact]
    public async Task WithoutRedact_TextsAreKeptAsTheyAre()
    {
        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var (reason, logged) = await DeadLetterAFailureAsync(logger, redact: null);

        reason.Should().Contain(Secret);
        logged[0].Should().BeOfType<InvalidOperationException>();
    }

    private static async Task<(string Reason, IReadOnlyList<Exception> Logged)> DeadLetterAFailureAsync(ListLogger<ConsumerWorkerPool<int>> logger, Func<string, string>? redact)
    {
        var store = new SettlementProbe<int>(MessageStore.CreateInMemory<int>($"redact-{Guid.NewGuid():N}"[..24]));
        await using var disposeStore = store;
        var options = new ConsumerOptions { Concurrency = 1, MaxDeliveryAttempts = 1, ResiliencePipeline = ResiliencePipeline.Empty, Redact = redact };
        await using (var pool = new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => new DelegateConsumer<int>((_, _) => ThrowWithSecret()), options, logger: logger))
        {
            await store.EnqueueAsync(new Message<int>(1)).Within();
            await pool.StartAsync(default);
            (await store.NextSettlementAsync()).Should().Be(("dead-letter", true));
            await pool.StopAsync(default).Within();
        }

        var deadLetter = (await store.GetDeadLettersAsync(1).Within()).Should().ContainSingle().Subject;
        return (deadLetter.Reason, logger.Entries.Select(e => e.Exception).OfType<Exception>().ToList());
    }

    private static Task ThrowWithSecret()
    {
        try
        {
            throw new TimeoutException($"lookup of {Secret} timed out");
        }
        catch (TimeoutException inner)
        {
            throw new InvalidOperationException($"No customer {Secret}; see inner.", inner);
        }
    }

    [GeneratedRegex(@"[\w.]+@[\w.]+")]
    private static partial Regex Email();
}
