using System.Globalization;
using System.Text.RegularExpressions;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>The crash hosts' ledgers, read back: each handling with its delivery count.</summary>
internal sealed partial class LedgerReport
{
    public Dictionary<string, List<int>> Handled { get; } = new(StringComparer.Ordinal);

    public int TornLines { get; private set; }

    public static LedgerReport Read(params string[] paths)
    {
        var report = new LedgerReport();
        foreach (var path in paths)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                report.Add(line);
            }
        }

        return report;
    }

    private void Add(string line)
    {
        if (line.Length == 0)
        {
            return;
        }

        if (HandledLine().Match(line) is { Success: true } handled)
        {
            var id = handled.Groups[1].Value;
            if (!Handled.TryGetValue(id, out var counts))
            {
                Handled[id] = counts = [];
            }

            counts.Add(int.Parse(handled.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        else
        {
            // A line cut short by a kill: it lacks the closing " #", so it proves nothing.
            TornLines++;
        }
    }

    [GeneratedRegex("^handled (\\S+) (\\d+) #$")]
    private static partial Regex HandledLine();
}
