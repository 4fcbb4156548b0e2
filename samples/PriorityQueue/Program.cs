// Priority Queue: free, standard and premium requests (priorities 0, 1, 2) arrive at 1.5× what the service
// can handle. The same traffic runs three times, once per scheduler of the multi-queue store, each in a host
// of its own wired with the DI extensions as a service would be; a table and a PNG chart show what each class waited.
using MessagingPatterns;
using MessagingPatterns.Samples;

var overloadFor = TimeSpan.FromSeconds(args.Contains("--short") ? 1 : 3);
const double LoadFactor = 1.5;
const int PremiumWorkers = 1;

// From the highest class down: premium, standard, free. Free's target is short enough to be reached in a few
// seconds of overload; only then does deadline scheduling differ from strict (it lets standard use its slack).
TimeSpan[] targets = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2)];
TimeSpan[] targetsByPriority = [.. targets.Reverse()];   // for the table and chart, which list classes by priority

Scenario[] scenarios =
[
    new("Strict",
        $"always the highest waiting class; {Service.Workers} workers",
        services => services.AddInMemoryMultiQueue<Request>("requests", store => store.Scheduler = LevelScheduler.Strict),
        queue => queue.AddConsumer<RequestConsumer>(Pool(Service.Workers))),
    new("Weighted",
        $"70/20/10 of receives to premium/standard/free while all wait; {Service.Workers} workers",
        services => services.AddInMemoryMultiQueue<Request>("requests", store => store.Scheduler = LevelScheduler.Weighted(70, 20, 10)),
        queue => queue.AddConsumer<RequestConsumer>(Pool(Service.Workers))),
    new("Deadline",
        $"targets premium 50 ms, standard 500 ms, free 2 s; {Service.Workers - PremiumWorkers} shared workers + {PremiumWorkers} for premium only",
        services => services.AddInMemoryMultiQueue<Request>("requests", store => store.Scheduler = LevelScheduler.Deadline(targets)),

        // The same number of workers in all, but one is reserved for premium, so a premium request never waits
        // for a shared worker to finish a free one. Premium traffic alone keeps it busy under this load; the shared
        // pool serves premium too whenever the reserved worker is taken.
        queue => queue
            .AddConsumer<RequestConsumer>(Pool(Service.Workers - PremiumWorkers))
            .AddLevelConsumer<Request, RequestConsumer>((int)ServiceClass.Premium, Pool(PremiumWorkers))),
];

// --store sqlite|postgres: the same traffic over a durable store, which keeps one queue in priority order (higher
// first, then publish order), so only the Strict run applies. Weighted and deadline scheduling and per-level
// pools exist only in the in-memory multi-queue store.
if (SampleStores.Selected(args) != "inmemory")
{
    scenarios =
    [
        new("Strict",
            $"{SampleStores.Selected(args)} store: priority order within one queue; {Service.Workers} workers",
            services => services.AddSelectedQueue<Request>("requests", args),
            queue => queue.AddConsumer<RequestConsumer>(Pool(Service.Workers))),
    ];
    Console.WriteLine(
        $"Store: {SampleStores.Selected(args)}. It serves strict priority order; weighted and deadline scheduling and " +
        "per-level consumer pools exist only in the in-memory multi-queue store, so those runs are left out.");
}

// Measured, not assumed: a 2 ms delay takes longer than 2 ms on most machines (timer resolution, other load),
// so the overload is set from what the workers really get through.
var capacity = await scenarios[0].MeasureCapacityAsync(requests: 1_500);
var traffic = new Traffic(capacity * LoadFactor, overloadFor);
Console.WriteLine(
    $"{Service.Workers} workers × {Service.HandlerTime.TotalMilliseconds:N0} ms serve about {capacity:N0} requests/s; " +
    $"offering {traffic.PerSecond:N0}/s ({LoadFactor}×) for {overloadFor.TotalSeconds:N0} s: 20% premium, 40% standard, 40% free.");

var results = new List<RunResult>();
foreach (var scenario in scenarios)
{
    Console.WriteLine();
    Console.WriteLine($"{scenario.Name}: {scenario.Description}");
    var result = await scenario.RunAsync(traffic, drainTimeout: TimeSpan.FromSeconds(30));
    Console.WriteLine(
        $"  {scenario.Name} done in {result.Elapsed.TotalSeconds:N1} s: published {result.Ledger.Published:N0}, " +
        $"handled {result.Ledger.Handled:N0}, dead-lettered {result.DeadLettered}, lost {result.Lost}");
    results.Add(result);
}

Console.WriteLine();
LatencyTable.Print(results, targetsByPriority);
var chartPath = Path.GetFullPath(ValueOf("--out") ?? Path.Combine(Path.GetTempPath(), "priority-latency.png"));
LatencyChart.Write(chartPath, results, targetsByPriority, $"Latency per class at {LoadFactor}× capacity: p50 / p95 / p99 (light to dark) per scheduler");
Console.WriteLine($"chart: {chartPath}");
Console.WriteLine();

var lost = results.Sum(r => r.Lost);
Console.WriteLine(
    $"published {results.Sum(r => r.Ledger.Published)}, handled {results.Sum(r => r.Ledger.Handled)}, " +
    $"dead-lettered {results.Sum(r => r.DeadLettered)}, lost {lost}");
await SampleStores.CleanUpAsync(args);
return lost == 0 ? 0 : 1;

// Prefetch 1: a worker leases only the request it is about to serve, so a premium request published a moment
// later is not stuck behind free ones already leased by the worker.
static Action<ConsumerOptions> Pool(int workers) => options =>
{
    options.Concurrency = workers;
    options.PrefetchCount = 1;
};

string? ValueOf(string option)
{
    var index = Array.IndexOf(args, option);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
