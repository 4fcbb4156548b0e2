using System.Text;

/// <summary>
/// Draws the timeline in the terminal, one row per sample: a bar each for arrivals/s, processed/s and depth. Both rates
/// share one scale, so the flat processing bar is directly comparable with the spike of arrivals.
/// </summary>
public sealed class TerminalChart(double rateScale, double depthScale)
{
    private const int BarWidth = 16;

    // Eighths of a character cell, so a bar grows smoothly rather than in whole characters.
    private static readonly string[] s_partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

    public void PrintHeader() =>
        Console.WriteLine($"{"time",6}  {"arrivals/s",-23}  {"processed/s",-23}  depth");

    public void PrintRow(Point point) =>
        Console.WriteLine(
            $"{point.At.TotalSeconds,5:0.00}s  {Cell(point.ArrivalsPerSecond, rateScale)}  " +
            $"{Cell(point.ProcessedPerSecond, rateScale)}  {Cell(point.Depth, depthScale)}".TrimEnd());

    private static string Cell(double value, double scale) => $"{value,6:N0} {Bar(value / scale),-BarWidth}";

    private static string Bar(double fraction)
    {
        var eighths = (int)Math.Round(Math.Clamp(fraction, 0, 1) * BarWidth * 8);
        return new StringBuilder().Append('█', eighths / 8).Append(s_partials[eighths % 8]).ToString();
    }
}
