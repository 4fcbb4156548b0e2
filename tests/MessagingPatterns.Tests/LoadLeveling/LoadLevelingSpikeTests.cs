using System.Globalization;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>
/// Producers burst 10,000 messages in one second against consumers paced at 500 messages per second, on a fake clock
/// stepped 10 ms at a time: the spike is absorbed and drained at the configured rate, with every message accounted for.
/// </summary>
public sealed class LoadLevelingSpikeTests(ITestOutputHelper output)
{
    private const int Total = 10_000;
    private const int Rate = 500;
    private static readonly TimeSpan s_step = TimeSpan.FromMilliseconds(10);
    private static readonly int s_stepsPerSecond = (int)(TimeSpan.FromSeconds(1) / s_step);
    private static readonly int s_perStep = Total / s_stepsPerSecond;

    [Fact]
    public async Task Spike_InWaitMode_DrainsAtTheConfiguredRateAndLosesNothing()
    {
        var run = await SimulateAsync(new LoadLevelingOptions { Capacity = Total, MessagesPerSecond = Rate, Burst = 20 });

        run.Rejected.Should().BeEmpty();
        run.Handled.Order(StringComparer.Ordinal).Should().Equal(run.Accepted.Order(StringComparer.Ordinal), "0 lost, 0 duplicated");
        run.Accepted.Should().HaveCount(Total);
        run.Seconds.Max(s => s.Depth).Should().BeGreaterThan(9_000, "the spike is absorbed by the buffer");
        run.Seconds[^1].Depth.Should().Be(0);

        // Every full second of the drain (the last second may be partial) processes 500 ± 5 %.
        var draining = run.Seconds.Where(s => s.Second < run.Seconds.Count - 1).ToList();
        draining.Should().NotBeEmpty().And.AllSatisfy(s => s.Processed.Should().BeInRange(475, 525));
        run.Seconds.Where(s => s.Second > 1 && s.Second < run.Seconds.Count - 1)
            .Should().AllSatisfy(s => s.SnapshotProcessingRate.Should().BeInRange(475, 525));
        Print(run);
    }

    [Fact]
    public async Task Spike_InRejectMode_EveryRejectedPublishGotTheErrorAndNothingAcceptedIsLost()
    {
        var run = await SimulateAsync(new LoadLevelingOptions { Capacity = 2_000, FullMode = FullMode.Reject, MessagesPerSecond = Rate, Burst = 20 });

        run.Rejected.Should().NotBeEmpty();
        (run.Rejected.Count + run.Accepted.Count).Should().Be(Total, "every publish either got the error or was accepted");
        run.Handled.Order(StringComparer.Ordinal).Should().Equal(run.Accepted.Order(StringComparer.Ordinal));
        run.Final.Rejected.Should().Be(run.Rejected.Count);
        run.Seconds.Max(s => s.Depth).Should().BeLessThanOrEqualTo(2_000);
    }

    [Fact]
    public async Task Spike_InDropOldestMode_ReportsEveryDrop()
    {
        var dropped = new List<DroppedMessage>();
        var run = await SimulateAsync(new LoadLevelingOptions
        {
            Capacity = 2_000,
            FullMode = FullMode.DropOldest,
            OnDropped = dropped.Add,
            MessagesPerSecond = Rate,
            Burst = 20,
        });

        var droppedIds = dropped.Select(d => d.MessageId).ToList();
        droppedIds.Should().NotBeEmpty().And.OnlyHaveUniqueItems();
        droppedIds.Intersect(run.Handled).Should().BeEmpty("a dropped message is never delivered");
        run.Handled.Concat(droppedIds).Order(StringComparer.Ordinal).Should().Equal(run.Accepted.Order(StringComparer.Ordinal), "every message was handled or reported dropped");
        run.Final.Dropped.Should().Be(dropped.Count);
    }

    private static async Task<Run> SimulateAsync(LoadLevelingOptions options)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("spike", timeProvider: time), options, time);
        var accepted = new List<string>();
        var rejected = new List<QueueFullException>();
        var handled = new List<string>();
        var seconds = new List<SecondRow>();
        int arrivedThisSecond = 0, processedThisSecond = 0, published = 0;

        for (var step = 0; step < 120 * s_stepsPerSecond; step++)
        {
            for (var i = 0; i < s_perStep && published < Total; i++, published++)
            {
                var message = new Message<int>(published, $"m-{published}");
                try
                {
                    var publish = store.EnqueueAsync(message);
                    publish.IsCompleted.Should().BeTrue("the buffer never makes this spike wait");
                    await publish;
                    accepted.Add(message.Id);
                    arrivedThisSecond++;
                }
                catch (QueueFullException error)
                {
                    error.Capacity.Should().Be(options.Capacity);
                    rejected.Add(error);
                }
            }

            processedThisSecond += await Pump.DrainAvailableAsync(store, handled);
            time.Advance(s_step);

            if ((step + 1) % s_stepsPerSecond == 0)
            {
                var snapshot = store.GetSnapshot();
                seconds.Add(new SecondRow(seconds.Count + 1, arrivedThisSecond, processedThisSecond, snapshot.Depth, snapshot.ProcessingRate, snapshot.AverageWait));
                arrivedThisSecond = processedThisSecond = 0;
                if (published == Total && snapshot.Depth == 0)
                {
                    break;
                }
            }
        }

        return new Run(accepted, rejected, handled, seconds, store.GetSnapshot());
    }

    private void Print(Run run)
    {
        var table = new StringBuilder();
        table.AppendLine("| t (s) | arrived/s | processed/s | depth at end | snapshot processing rate | avg wait |");
        table.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in run.Seconds)
        {
            table.AppendLine(CultureInfo.InvariantCulture, $"| {row.Second} | {row.Arrived} | {row.Processed} | {row.Depth} | {row.SnapshotProcessingRate:F0} | {row.AverageWait.TotalSeconds:F1} s |");
        }

        output.WriteLine(table.ToString());
    }

    private sealed record SecondRow(int Second, int Arrived, int Processed, long Depth, double SnapshotProcessingRate, TimeSpan AverageWait);

    private sealed record Run(List<string> Accepted, List<QueueFullException> Rejected, List<string> Handled, List<SecondRow> Seconds, LoadLevelingSnapshot Final);
}
