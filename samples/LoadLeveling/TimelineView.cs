using Spectre.Console;
using Spectre.Console.Rendering;

/// <summary>
/// Shows the timeline in the terminal as it is sampled, one row per sample: a bar each for arrivals/s, processed/s
/// and depth. Both rates share one scale, so the flat processing bar compares directly with the spike of arrivals.
/// Without a terminal (output redirected, as in CI) the same rows come out as plain text.
/// </summary>
public sealed class TimelineView(double rateScale, double depthScale)
{
    private const int BarWidth = 24;

    public void PrintHeader() =>
        AnsiConsole.Write(Row(new Markup("[bold]time[/]"), new Markup("[bold]arrivals/s[/]"), new Markup("[bold]processed/s[/]"), new Markup("[bold]depth[/]")));

    public void PrintRow(Point point) =>
        AnsiConsole.Write(Row(
            new Text($"{point.At.TotalSeconds:0.00}s"),
            Bar(point.ArrivalsPerSecond, rateScale, Color.DarkOrange),
            Bar(point.ProcessedPerSecond, rateScale, Color.DodgerBlue1),
            Bar(point.Depth, depthScale, Color.Green)));

    private static Grid Row(params IRenderable[] cells)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().Width(7).NoWrap());
        for (var i = 1; i < cells.Length; i++)
        {
            grid.AddColumn(new GridColumn().Width(BarWidth).NoWrap());
        }

        return grid.AddRow(cells);
    }

    private static BarChart Bar(double value, double scale, Color color) =>
        new BarChart().Width(BarWidth).WithMaxValue(scale).AddItem(" ", Math.Round(value), color);
}
