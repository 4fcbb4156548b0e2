using System.Globalization;
using System.Text;
using Xunit.Abstractions;
using static MessagingPatterns.Tests.Priority.PriorityTestKit;

namespace MessagingPatterns.Tests.Priority;

/// <summary>
/// A deterministic overload simulation under fake time: one server with a 1 ms service time (capacity
/// 1,000/s), Poisson arrivals at 1.5x capacity split 20% top / 30% mid / 50% low, targets 50 ms / 500 ms / 5 s.
/// Messages still waiting when arrivals stop count with the wait they had by then.
/// </summary>
public sealed class OverloadSimulationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan[] s_targets = [TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(50)];

    [Fact]
    public async Task Simulation_ArrivalsAtOneAndAHalfTimesCapacity_TopLevelMeetsItsTarget_AndLowerLevelsDegradeInOrder()
    {
        var report = new StringBuilder();
        report.AppendLine("scheduler | level | target | served | waiting | p50 ms | p95 ms | p99 ms");
        foreach (var scheduling in new[] { LevelScheduling.Strict, LevelScheduling.Weighted, LevelScheduling.Deadline })
        {
            var waits = await SimulateAsync(scheduling);
            var p95 = new double[3];
            for (var level = 2; level >= 0; level--)
            {
                var sorted = waits[level].Select(w => w.Ms).Order().ToArray();
                p95[level] = Percentile(sorted, 0.95);
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"{scheduling,-9} | {level,5} | {s_targets[level].TotalMilliseconds,6} | {waits[level].Count(w => w.Served),6} | {waits[level].Count(w => !w.Served),7} | {Percentile(sorted, 0.5),6:F0} | {p95[level],6:F0} | {Percentile(sorted, 0.99),6:F0}");
            }

            p95[2].Should().BeLessThanOrEqualTo(s_targets[2].TotalMilliseconds, $"{scheduling}: the top level meets its p95 target");
            p95[1].Should().BeLessThanOrEqualTo(p95[0], $"{scheduling}: the lowest level degrades most");
            p95[2].Should().BeLessThanOrEqualTo(p95[1], $"{scheduling}: the mid level degrades more than the top");
        }

        output.WriteLine(report.ToString());
    }

    private static async Task<List<(double Ms, bool Served)>[]> SimulateAsync(LevelScheduling scheduling)
    {
        var time = NewTime();
        var start = time.GetUtcNow();
        await using var store = MessageStore.CreateMultiQueue<int>("simulation", new MultiQueueOptions
        {
            Scheduler = scheduling switch
            {
                LevelScheduling.Weighted => LevelScheduler.Weighted(70, 20, 10),
                LevelScheduling.Deadline => LevelScheduler.Deadline([.. s_targets.Reverse()]),
                _ => LevelScheduler.Strict,
            },
        }, time);

        var arrivals = Arrivals(seed: 7, ratePerMs: 1.5, duration: TimeSpan.FromSeconds(20));
        var serviceTime = TimeSpan.FromMilliseconds(1);
        var waits = new[] { new List<(double, bool)>(), new List<(double, bool)>(), new List<(double, bool)>() };
        var serverFreeAt = start;
        var next = 0;
        while (next < arrivals.Count)
        {
            var now = time.GetUtcNow();
            while (next < arrivals.Count && start + arrivals[next].At <= now)
            {
                Publish(store, new Message<int>(next, priority: arrivals[next++].Level));
            }

            if (serverFreeAt <= now && TryReceive(store) is { } delivery)
            {
                waits[delivery.Message.Priority].Add(((now - delivery.Message.EnqueuedAt).TotalMilliseconds, true));
                Sync(store.AckAsync(delivery.Lease)).Should().BeTrue();
                serverFreeAt = now + serviceTime;
                continue;
            }

            var nextArrival = next < arrivals.Count ? start + arrivals[next].At : DateTimeOffset.MaxValue;
            var nextEvent = serverFreeAt > now && serverFreeAt < nextArrival ? serverFreeAt : nextArrival;
            time.Advance(nextEvent - now);
        }

        // Messages still waiting at the end count with the wait they had so far: a lower bound.
        var end = time.GetUtcNow();
        for (var level = 0; level < 3; level++)
        {
            var level0 = store.ForLevel(level);
            var buffer = new Delivery<int>[1024];
            while (store.GetReadyCount(level) > 0)
            {
                var received = Sync(level0.ReceiveAsync(buffer, Lease));
                for (var i = 0; i < received; i++)
                {
                    waits[level].Add(((end - buffer[i].Message.EnqueuedAt).TotalMilliseconds, false));
                }
            }
        }

        return waits;
    }

    private static List<(TimeSpan At, int Level)> Arrivals(int seed, double ratePerMs, TimeSpan duration)
    {
        var random = new Random(seed);
        var arrivals = new List<(TimeSpan, int)>();
        var at = 0.0;
        while (true)
        {
            at += -Math.Log(1 - random.NextDouble()) / ratePerMs;
            if (at >= duration.TotalMilliseconds)
            {
                return arrivals;
            }

            var draw = random.NextDouble();
            arrivals.Add((TimeSpan.FromMilliseconds(Math.Round(at, 3)), draw < 0.2 ? 2 : draw < 0.5 ? 1 : 0));
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
