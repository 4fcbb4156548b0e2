using System.Text.RegularExpressions;

namespace MessagingPatterns.Tests;

/// <summary>
/// Every C# block in the README is a verbatim copy of compiled code — a whole sample file or a
/// <c>#region</c> of one — named by the <c>&lt;!-- snippet: path#region --&gt;</c> comment above it.
/// The build compiles the samples, so a README example that would not compile fails this test instead.
/// </summary>
public sealed partial class ReadmeTests
{
    [Fact]
    public void EveryCSharpBlock_IsACopyOfCompiledSampleCode()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");

        var blocks = CSharpBlock().Matches(readme);
        var snippets = SnippetBlock().Matches(readme);

        blocks.Count.Should().BeGreaterThan(0);
        snippets.Count.Should().Be(blocks.Count, "every C# block names the compiled code it copies");
        foreach (Match snippet in snippets)
        {
            var path = snippet.Groups["path"].Value;
            var source = File.ReadAllText(Path.Combine(root, path)).ReplaceLineEndings("\n");
            var expected = snippet.Groups["region"].Success ? Region(source, snippet.Groups["region"].Value) : source;

            Normalize(snippet.Groups["code"].Value).Should().Be(Normalize(expected), $"the README block from {snippet.Groups["path"]}{snippet.Groups["region"]} must match the compiled code");
        }
    }

    private static string Region(string source, string name)
    {
        var lines = source.Split('\n');
        var start = Array.FindIndex(lines, line => line.Trim() == $"#region {name}");
        start.Should().BeGreaterThanOrEqualTo(0, $"region {name} exists");
        var end = Array.FindIndex(lines, start, line => line.Trim() == "#endregion");
        var body = lines[(start + 1)..end];
        var indent = body.Where(line => line.Trim().Length > 0).Min(line => line.Length - line.TrimStart().Length);
        return string.Join('\n', body.Select(line => line.Length >= indent ? line[indent..] : line.TrimStart()));
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(line => line.TrimEnd())).Trim('\n');

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MessagingPatterns.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with MessagingPatterns.sln) was not found above the test's folder.");
    }

    [GeneratedRegex("^```csharp\n", RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex("<!-- snippet: (?<path>[^#\\s]+)(#(?<region>\\S+))? -->\n```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex SnippetBlock();
}
