using System.Collections.Concurrent;
using System.Globalization;
using Xunit.Abstractions;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A consumer process killed with SIGKILL mid-flow, again and again, while this process publishes: with the
/// ledger oracle, every accepted message is handled, and only deliveries in flight at a kill repeat.
/// </summary>
public sealed class ConsumerCrashTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task ConsumerKilledTenTimesMidFlow_LosesNoAcceptedMessage()
    {
        const int Kills = 10;
        const int PerRun = 200;
        const int Prefetch = 32;
        await using var scope = new StoreScope("crash");
        var producer = scope.Create();
        var deliveries = new ConcurrentQueue<(string Id, int DeliveryCount)>();
        var accepted = new ConcurrentDictionary<string, bool>();
        var random = new Random(20261202);

        for (var run = 0; run <= Kills; run++)
        {
            using var consumer = ConsumerProcess.Start(RabbitMqBroker.Uri, scope.Name, Prefetch, deliveries);
            await consumer.Ready.WaitAsync(s_patience);
            if (run == Kills)
            {
                // The last run drains: it stops once every accepted message was handled.
                while (!accepted.Keys.All(id => deliveries.Any(d => d.Id == id)))
                {
                    await consumer.WaitForHandledAsync(consumer.Handled + 1, s_patience);
                }

                consumer.RequestStop();
                (await consumer.WaitForExitAsync(s_patience)).Should().Be(0);
                break;
            }

            var publishing = PublishAsync(producer, run * 1_000, PerRun, accepted);
            var killAfter = random.Next(20, 150);
            await consumer.WaitForHandledAsync(killAfter, s_patience);
            consumer.Kill();
            await consumer.WaitForExitAsync(s_patience);
            await publishing.WaitAsync(s_patience);
            output.WriteLine($"run {run}: killed after {consumer.Handled} deliveries");
        }

        var handled = deliveries.GroupBy(d => d.Id).ToDictionary(g => g.Key, g => g.Select(d => d.DeliveryCount).ToList());
        var lost = accepted.Keys.Where(id => !handled.ContainsKey(id)).ToList();
        var unexpected = handled.Keys.Where(id => !accepted.ContainsKey(id)).ToList();
        var duplicated = handled.Where(pair => pair.Value.Count > 1).ToList();
        output.WriteLine($"{Kills} kills: {accepted.Count} accepted, {handled.Count} handled, {duplicated.Count} duplicated");

        accepted.Count.Should().Be(Kills * PerRun);
        lost.Should().BeEmpty("every message whose publish returned must be handled");
        unexpected.Should().BeEmpty();
        foreach (var (id, counts) in duplicated)
        {
            counts.Skip(1).Should().OnlyContain(count => count >= 2, $"a repeat of {id} is a redelivery");
        }

        duplicated.Count.Should().BeLessThanOrEqualTo(Kills * 2 * 8, "only deliveries handled but not yet acknowledged at a kill repeat");
        (await producer.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    private static async Task PublishAsync(IMessageStore<TestMessage> producer, int first, int count, ConcurrentDictionary<string, bool> accepted)
    {
        for (var i = first; i < first + count; i++)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"c{i}");
            await producer.EnqueueAsync(new Message<TestMessage>(new TestMessage(i), id));
            accepted[id] = true;
        }
    }
}
