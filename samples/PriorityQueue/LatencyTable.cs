/// <summary>Prints the latency percentiles of each class, one column per scheduler.</summary>
public static class LatencyTable
{
    private const int ClassWidth = 20;
    private const int CellWidth = 29;

    /// <param name="results">One run per scheduler.</param>
    /// <param name="targets">The latency target of each class, indexed by priority, shown beside its name.</param>
    public static void Print(IReadOnlyList<RunResult> results, IReadOnlyList<TimeSpan> targets)
    {
        Console.WriteLine("Latency, enqueue → handled: p50 / p95 / p99");
        Console.WriteLine("class (target)".PadRight(ClassWidth) + string.Concat(results.Select(r => r.Scenario.Name.PadRight(CellWidth))).TrimEnd());
        foreach (var serviceClass in new[] { ServiceClass.Premium, ServiceClass.Standard, ServiceClass.Free })
        {
            var label = $"{serviceClass.ToString().ToLowerInvariant()} ({Format(targets[(int)serviceClass])})";
            var cells = results.Select(r => Format(r.Ledger.LatencyOf(serviceClass)).PadRight(CellWidth));
            Console.WriteLine(label.PadRight(ClassWidth) + string.Concat(cells).TrimEnd());
        }
    }

    private static string Format(Percentiles p) => $"{Format(p.P50)} / {Format(p.P95)} / {Format(p.P99)}";

    private static string Format(TimeSpan latency) => latency.TotalMilliseconds switch
    {
        < 10 => $"{latency.TotalMilliseconds:0.0} ms",
        < 1_000 => $"{latency.TotalMilliseconds:0} ms",
        _ => $"{latency.TotalSeconds:0.0#} s",
    };
}
