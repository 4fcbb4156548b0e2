using System.Globalization;
using System.Text.RegularExpressions;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>The crash host's ledger, read back: which ids were accepted, and each handling with its delivery count.</summary>
internal sealed partial class LedgerReport
{
    public HashSet<string> PublishedOk { get; } = new(StringComparer.Ordinal);

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

        if (PublishOkLine().Match(line) is { Success: true } published)
        {
            PublishedOk.Add(published.Groups[1].Value);
        }
        else if (HandledLine().Match(line) is { Success: true } handled)
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

    [GeneratedRegex("^publish-ok (\\S+) #$")]
    private static partial Regex PublishOkLine();

    [GeneratedRegex("^handled (\\S+) (\\d+) #$")]
    private static partial Regex HandledLine();
}
