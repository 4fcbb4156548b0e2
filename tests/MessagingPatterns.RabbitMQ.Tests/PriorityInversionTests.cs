using Xunit.Abstractions;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// No priority inversion through the prefetch: with 64 messages sent ahead to the consumer and 100,000
/// low-priority messages waiting, a high-priority message starts within two handler durations.
/// </summary>
/// <remarks>
/// The broker's own priority orders only what it still holds: a high-priority message published behind
/// a backlog is sent ahead of the rest of the backlog as soon as a prefetch slot frees, but a client
/// consuming in arrival order would still start the 63 low-priority messages already sent ahead first.
/// The store orders what it was sent ahead by priority too, so the high one waits for one slot only.
/// </remarks>
public sealed class PriorityInversionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(120);

    [SkippableFact]
    public async Task HighPriorityMessage_BehindAHundredThousandLowOnes_WithPrefetch64_StartsWithinTwoHandlerDurations()
    {
        const int Backlog = 100_000;
        await using var scope = new StoreScope("inversion");
        var producer = scope.Create();
        var consumer = scope.Create(prefetch: 64);
        for (var first = 0; first < Backlog; first += 1_000)
        {
            var batch = Enumerable.Range(first, 1_000).Select(n => new Message<TestMessage>(new TestMessage(n), priority: 0)).ToArray();
            await producer.EnqueueBatchAsync(batch).AsTask().WaitAsync(s_patience);
        }

        var started = new List<long>();
        var highPublished = -1;
        var buffer = new Delivery<TestMessage>[1];
        while (started.Count < 200)
        {
            await consumer.ReceiveAsync(buffer, TimeSpan.FromSeconds(30)).AsTask().WaitAsync(s_patience);
            var number = buffer[0].Message.Body.Number;
            started.Add(number);
            if (number == -1)
            {
                break;
            }

            if (started.Count == 10)
            {
                // Published while the tenth low-priority message is being handled.
                await producer.EnqueueAsync(new Message<TestMessage>(new TestMessage(-1), "high", priority: 9)).AsTask().WaitAsync(s_patience);
                highPublished = started.Count;
            }

            await Task.Delay(10); // the handler's work
            await consumer.AckAsync(buffer[0].Lease);
        }

        var lowStartedAfterPublish = started.Count - 1 - highPublished;
        output.WriteLine($"low-priority messages started after the high one was published: {lowStartedAfterPublish}");
        started[^1].Should().Be(-1, "the high-priority message must start long before the backlog is worked off");
        lowStartedAfterPublish.Should().BeLessThanOrEqualTo(2, "a high-priority message waits for at most one free prefetch slot, not the 63 messages sent ahead");
    }
}
