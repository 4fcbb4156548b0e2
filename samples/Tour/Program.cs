// A tour of the three patterns, one after another, each in a compact form: what it is for, then a run that shows it,
// then its result. Every message is accounted for; the exit code is 1 if any was lost.
var shortRun = args.Contains("--short");
var started = TimeProvider.System.GetTimestamp();

Console.WriteLine("MessagingPatterns tour: competing consumers, priority queue, load leveling.");
var results = new List<PatternResult>
{
    await Section.RunAsync(CompetingConsumersTour.Title, CompetingConsumersTour.Explanation, () => CompetingConsumersTour.RunAsync(shortRun)),
    await Section.RunAsync(PriorityQueueTour.Title, PriorityQueueTour.Explanation, () => PriorityQueueTour.RunAsync(shortRun)),
    await Section.RunAsync(LoadLevelingTour.Title, LoadLevelingTour.Explanation, () => LoadLevelingTour.RunAsync(shortRun)),
};

Console.WriteLine();
Console.WriteLine($"== Summary ({TimeProvider.System.GetElapsedTime(started).TotalSeconds:N0} s)");
foreach (var result in results)
{
    Console.WriteLine($"{result.Pattern + ":",-21}{result.Accounting}  ({result.Highlight})");
}

var lost = results.Sum(r => r.Lost);
Console.WriteLine($"tour: {results.Count} patterns, published {results.Sum(r => r.Published)}, lost {lost}");
return lost == 0 ? 0 : 1;
