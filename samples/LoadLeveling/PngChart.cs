using ScottPlot;

/// <summary>
/// Writes the timeline as a PNG line chart: arrivals/s and processed/s against the left axis, queue depth against the
/// right one, time along the bottom, with the pace limit as a dashed line.
/// </summary>
public static class PngChart
{
    public static void Write(string path, IReadOnlyList<Point> points, double pacedRate, string title)
    {
        var plot = new Plot();
        var seconds = points.Select(p => p.At.TotalSeconds).ToArray();

        var depth = plot.Add.Scatter(seconds, points.Select(p => (double)p.Depth).ToArray());
        depth.Axes.YAxis = plot.Axes.Right;
        Style(depth, "queue depth (right axis)", "#2b8a3e", 2);
        depth.FillY = true;
        depth.FillYColor = Color.FromHex("#2b8a3e").WithAlpha(0.12);

        Style(plot.Add.Scatter(seconds, points.Select(p => p.ArrivalsPerSecond).ToArray()), "arrivals/s", "#e8590c", 2);
        Style(plot.Add.Scatter(seconds, points.Select(p => p.ProcessedPerSecond).ToArray()), "processed/s", "#1c7ed6", 2.5f);

        // The processing line should run along the pace limit while a backlog waits.
        var pace = plot.Add.HorizontalLine(pacedRate);
        pace.LinePattern = LinePattern.Dashed;
        pace.Color = Color.FromHex("#868e96");
        pace.LegendText = $"pace limit {pacedRate:N0}/s";

        plot.Title(title);
        plot.XLabel("time (s)");
        plot.YLabel("messages per second");
        plot.Axes.Right.Label.Text = "queue depth (messages)";
        plot.Axes.Left.Min = 0;
        plot.Axes.Right.Min = 0;
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 960, 500);
    }

    private static void Style(ScottPlot.Plottables.Scatter line, string label, string color, float width)
    {
        line.LegendText = label;
        line.Color = Color.FromHex(color);
        line.LineWidth = width;
        line.MarkerSize = 0;
    }
}
