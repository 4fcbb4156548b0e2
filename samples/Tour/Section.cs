/// <summary>What one pattern's run came to: the accounting line and the one figure that shows the pattern at work.</summary>
public sealed record PatternResult(string Pattern, int Published, int Handled, int DeadLettered, int Lost, string Highlight)
{
    public string Accounting => $"published {Published}, handled {Handled}, dead-lettered {DeadLettered}, lost {Lost}";
}

/// <summary>Prints a pattern's title and explanation, runs it, and prints its result.</summary>
public static class Section
{
    public static async Task<PatternResult> RunAsync(string title, string explanation, Func<Task<PatternResult>> run)
    {
        Console.WriteLine();
        Console.WriteLine($"== {title}");
        Console.WriteLine(explanation);
        Console.WriteLine();
        var started = TimeProvider.System.GetTimestamp();
        var result = await run();
        Console.WriteLine(
            $"  → {result.Accounting} ({TimeProvider.System.GetElapsedTime(started).TotalSeconds:N1} s)");
        return result;
    }
}
