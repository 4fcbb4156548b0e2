using Spectre.Console;

/// <summary>Prints the latency percentiles of each class, one column per scheduler.</summary>
public static class LatencyTable
{
    /// <param name="results">One run per scheduler.</param>
    /// <param name="targets">The latency target of each class, indexed by priority, shown beside its name.</param>
    public static void Print(IReadOnlyList<RunResult> results, IReadOnlyList<TimeSpan> targets)
    {
        var table = new Table().Border(TableBorder.Minimal).Title("Latency, enqueue → handled: p50 / p95 / p99 in ms").AddColumn("class (target)");
        foreach (var result in results)
        {
            table.AddColumn(new TableColumn(result.Scenario.Name).RightAligned());
        }

        foreach (var serviceClass in new[] { ServiceClass.Premium, ServiceClass.Standard, ServiceClass.Free })
        {
            var label = $"{serviceClass.ToString().ToLowerInvariant()} ({Format(targets[(int)serviceClass])})";
            table.AddRow([label, .. results.Select(r => Format(r.Ledger.LatencyOf(serviceClass)))]);
        }

        AnsiConsole.Write(table);
    }

    private static string Format(Percentiles p) => $"{Milliseconds(p.P50)} / {Milliseconds(p.P95)} / {Milliseconds(p.P99)}";

    private static string Milliseconds(TimeSpan latency) => latency.TotalMilliseconds < 10 ? $"{latency.TotalMilliseconds:0.0}" : $"{latency.TotalMilliseconds:0}";

    public static string Format(TimeSpan latency) => latency.TotalMilliseconds switch
    {
        < 10 => $"{latency.TotalMilliseconds:0.0} ms",
        < 1_000 => $"{latency.TotalMilliseconds:0} ms",
        _ => $"{latency.TotalSeconds:0.0#} s",
    };
}
