using ScottPlot;

/// <summary>
/// Writes the latency percentiles as a PNG bar chart: one group per class, one bar per scheduler and percentile
/// (p50, p95, p99 from light to dark), on a logarithmic axis so premium's milliseconds and free's seconds both show.
/// </summary>
public static class LatencyChart
{
    private static readonly string[] s_schedulerColors = ["#1c7ed6", "#e8590c", "#2b8a3e", "#7048e8"];

    public static void Write(string path, IReadOnlyList<RunResult> results, IReadOnlyList<TimeSpan> targets, string title)
    {
        var plot = new Plot();
        ServiceClass[] classes = [ServiceClass.Premium, ServiceClass.Standard, ServiceClass.Free];
        var barsPerGroup = results.Count * 3;
        var ticks = new List<Tick>();
        for (var group = 0; group < classes.Length; group++)
        {
            var start = group * (barsPerGroup + 2);
            ticks.Add(new Tick(start + ((barsPerGroup - 1) / 2.0), $"{classes[group].ToString().ToLowerInvariant()} (target {LatencyTable.Format(targets[(int)classes[group]])})"));
            for (var run = 0; run < results.Count; run++)
            {
                var latency = results[run].Ledger.LatencyOf(classes[group]);
                TimeSpan[] percentiles = [latency.P50, latency.P95, latency.P99];
                for (var i = 0; i < percentiles.Length; i++)
                {
                    var bar = plot.Add.Bar(start + (run * 3) + i, Math.Log10(Math.Max(percentiles[i].TotalMilliseconds, 0.1)));
                    bar.Bars[0].FillColor = Color.FromHex(s_schedulerColors[run % s_schedulerColors.Length]).WithAlpha(0.45 + (0.275 * i));
                    bar.Bars[0].ValueBase = Math.Log10(0.1);
                }
            }
        }

        // One legend entry per scheduler; the shades within a scheduler's three bars are p50, p95 and p99.
        for (var run = 0; run < results.Count; run++)
        {
            plot.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = results[run].Scenario.Name,
                FillColor = Color.FromHex(s_schedulerColors[run % s_schedulerColors.Length]),
            });
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. new[] { 0.1, 1, 10, 100, 1_000, 10_000, 100_000 }.Select(ms => new Tick(Math.Log10(ms), LatencyTable.Format(TimeSpan.FromMilliseconds(ms))))]);
        plot.Axes.Left.Min = Math.Log10(0.1);
        plot.Title(title);
        plot.YLabel("latency, enqueue → handled (log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 960, 500);
    }
}
