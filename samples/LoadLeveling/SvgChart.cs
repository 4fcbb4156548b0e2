using System.Globalization;
using System.Net;
using System.Text;

/// <summary>
/// Writes the timeline as a self-contained SVG line chart: arrivals/s and processed/s against the left axis, queue
/// depth against the right one, time along the bottom, with a legend and the pace limit as a dashed line.
/// </summary>
public static class SvgChart
{
    private const double Width = 960;
    private const double Height = 500;
    private const double Left = 80;
    private const double Right = 90;
    private const double Top = 80;
    private const double Bottom = 60;
    private const double PlotWidth = Width - Left - Right;
    private const double PlotHeight = Height - Top - Bottom;

    private const string ArrivalsColor = "#e8590c";
    private const string ProcessedColor = "#1c7ed6";
    private const string DepthColor = "#2b8a3e";

    public static void Write(string path, IReadOnlyList<Point> points, double pacedRate, string title)
    {
        // Both vertical axes share the gridlines: the depth axis gets the same number of ticks as the rate axis.
        var rateStep = NiceCeiling(Math.Max(pacedRate, points.Max(p => Math.Max(p.ArrivalsPerSecond, p.ProcessedPerSecond))) * 1.05 / 5);
        var rateMax = rateStep * Math.Ceiling(Math.Max(pacedRate, points.Max(p => p.ArrivalsPerSecond)) * 1.05 / rateStep);
        var ticks = (int)Math.Round(rateMax / rateStep);
        var depthStep = NiceCeiling(Math.Max(10, points.Max(p => p.Depth)) * 1.05 / ticks);
        var depthMax = depthStep * ticks;
        var timeMax = points[^1].At.TotalSeconds;
        var timeStep = NiceCeiling(timeMax / 12);

        double X(double seconds) => Left + (seconds / timeMax * PlotWidth);
        double YRate(double rate) => Top + PlotHeight - (rate / rateMax * PlotHeight);
        double YDepth(double depth) => Top + PlotHeight - (depth / depthMax * PlotHeight);

        var svg = new StringBuilder();
        Append(svg, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">""");
        Append(svg, $"""<rect width="{Width}" height="{Height}" fill="#ffffff"/>""");
        Append(svg, $"""<text x="{Left}" y="28" font-size="16" font-weight="600" fill="#212529">{WebUtility.HtmlEncode(title)}</text>""");

        // Gridlines with the rate labels on the left and the depth labels on the right.
        for (var i = 0; i <= ticks; i++)
        {
            var y = YRate(i * rateStep);
            Append(svg, $"""<line x1="{Left}" y1="{y:0.#}" x2="{Left + PlotWidth}" y2="{y:0.#}" stroke="{(i == 0 ? "#495057" : "#e9ecef")}"/>""");
            Append(svg, $"""<text x="{Left - 8}" y="{y + 4:0.#}" text-anchor="end" fill="#495057">{i * rateStep:#,0}</text>""");
            Append(svg, $"""<text x="{Left + PlotWidth + 8}" y="{y + 4:0.#}" fill="{DepthColor}">{i * depthStep:#,0}</text>""");
        }

        for (var t = 0.0; t <= timeMax + 1e-9; t += timeStep)
        {
            var x = X(t);
            Append(svg, $"""<line x1="{x:0.#}" y1="{Top + PlotHeight}" x2="{x:0.#}" y2="{Top + PlotHeight + 5}" stroke="#495057"/>""");
            Append(svg, $"""<text x="{x:0.#}" y="{Top + PlotHeight + 20}" text-anchor="middle" fill="#495057">{t:0.#}</text>""");
        }

        Append(svg, $"""<line x1="{Left}" y1="{Top}" x2="{Left}" y2="{Top + PlotHeight}" stroke="#495057"/>""");
        Append(svg, $"""<line x1="{Left + PlotWidth}" y1="{Top}" x2="{Left + PlotWidth}" y2="{Top + PlotHeight}" stroke="{DepthColor}"/>""");
        Append(svg, $"""<text x="{Left + (PlotWidth / 2)}" y="{Height - 18}" text-anchor="middle" fill="#212529">time (s)</text>""");
        Append(svg, $"""<text transform="translate(24 {Top + (PlotHeight / 2)}) rotate(-90)" text-anchor="middle" fill="#212529">messages per second</text>""");
        Append(svg, $"""<text transform="translate({Width - 22} {Top + (PlotHeight / 2)}) rotate(90)" text-anchor="middle" fill="{DepthColor}">queue depth (messages)</text>""");

        // The pace limit: the processing line should run along it while a backlog waits.
        var paceY = YRate(pacedRate);
        Append(svg, $"""<line x1="{Left}" y1="{paceY:0.#}" x2="{Left + PlotWidth}" y2="{paceY:0.#}" stroke="#868e96" stroke-dasharray="6 4"/>""");
        Append(svg, $"""<text x="{Left + PlotWidth - 6}" y="{paceY - 6:0.#}" text-anchor="end" fill="#868e96">pace limit {pacedRate:#,0}/s</text>""");

        // Depth as a shaded area under its line, drawn first so the rate lines stay on top.
        var depthLine = Polyline(points, p => X(p.At.TotalSeconds), p => YDepth(p.Depth));
        Append(svg, $"""<polygon points="{X(0):0.#},{YDepth(0):0.#} {depthLine} {X(timeMax):0.#},{YDepth(0):0.#}" fill="{DepthColor}" fill-opacity="0.12"/>""");
        Append(svg, $"""<polyline points="{depthLine}" fill="none" stroke="{DepthColor}" stroke-width="2"/>""");
        Append(svg, $"""<polyline points="{Polyline(points, p => X(p.At.TotalSeconds), p => YRate(p.ArrivalsPerSecond))}" fill="none" stroke="{ArrivalsColor}" stroke-width="2" stroke-linejoin="round"/>""");
        Append(svg, $"""<polyline points="{Polyline(points, p => X(p.At.TotalSeconds), p => YRate(p.ProcessedPerSecond))}" fill="none" stroke="{ProcessedColor}" stroke-width="2.5" stroke-linejoin="round"/>""");

        // The legend, in a row under the title.
        (string Label, string Color)[] legend = [("arrivals/s", ArrivalsColor), ("processed/s", ProcessedColor), ("queue depth (right axis)", DepthColor)];
        var legendX = Left;
        foreach (var (label, color) in legend)
        {
            Append(svg, $"""<line x1="{legendX}" y1="52" x2="{legendX + 24}" y2="52" stroke="{color}" stroke-width="3"/>""");
            Append(svg, $"""<text x="{legendX + 30}" y="56" fill="#212529">{label}</text>""");
            legendX += 50 + (label.Length * 7);
        }

        svg.Append("</svg>\n");
        File.WriteAllText(path, svg.ToString());
    }

    private static string Polyline(IReadOnlyList<Point> points, Func<Point, double> x, Func<Point, double> y) =>
        string.Join(' ', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{x(p):0.#},{y(p):0.#}")));

    /// <summary>The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least the value: a step people read easily.</summary>
    private static double NiceCeiling(double value)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(value, 1e-9))));
        return new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * power).First(step => step >= value * (1 - 1e-9));
    }

    // Invariant culture throughout: SVG wants a dot for the decimal point whatever the user's locale.
    private static void Append(StringBuilder svg, FormattableString line) =>
        svg.Append(line.ToString(CultureInfo.InvariantCulture)).Append('\n');
}
