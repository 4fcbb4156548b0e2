// Queue-Based Load Leveling: a spike of events meets a consumer paced at a steady rate. The buffer absorbs the spike
// (its depth rises), and the consumer works it off at its own pace, so whatever the consumer calls downstream sees a
// steady 500 messages per second instead of the spike. The same series is shown in the terminal and written as a PNG chart.
using MessagingPatterns;
using MessagingPatterns.Samples;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

const double PacedRate = 500;   // messages per second the consumer may take
const int Burst = 20;           // taken at once after a quiet spell
var shortRun = args.Contains("--short");
var chartPath = Path.GetFullPath(ValueOf("--out") ?? Path.Combine(Path.GetTempPath(), "load-leveling.png"));

// A trickle all along, and a spike several times what the consumer may take.
var traffic = shortRun
    ? new Traffic(TricklePerSecond: 50, SpikeStart: TimeSpan.FromSeconds(0.5), SpikeDuration: TimeSpan.FromSeconds(0.5), SpikeSize: 1_000, Duration: TimeSpan.FromSeconds(3.5))
    : new Traffic(TricklePerSecond: 50, SpikeStart: TimeSpan.FromSeconds(2), SpikeDuration: TimeSpan.FromSeconds(1), SpikeSize: 4_000, Duration: TimeSpan.FromSeconds(13));

// A service as a user would write it: the generic host, an in-memory queue with a load-leveling buffer, a consumer pool.
var ledger = new Ledger();
var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Critical);   // the summary accounts for the dead letters instead
builder.Services.AddSingleton(ledger);
builder.Services.AddSelectedQueue<SensorEvent>("events", args)   // --store inmemory (default) | sqlite | postgres | rabbitmq
    .WithLoadLeveling(options =>
    {
        options.MessagesPerSecond = PacedRate;
        options.Burst = Burst;
        options.Capacity = 10_000;          // more than the spike: publishers never wait here
        options.FullMode = FullMode.Wait;   // and if they had to, they would wait rather than lose anything
    })
    .AddConsumer<SensorEventConsumer>(options => options.Concurrency = 8);   // 8 workers could go faster: the pace decides
using var host = builder.Build();
await host.StartAsync();

var producer = host.Services.GetRequiredKeyedService<IProducer<SensorEvent>>("events");
var buffer = host.Services.GetRequiredKeyedService<ILoadLevelingStore<SensorEvent>>("events");

Console.WriteLine(
    $"{traffic.TricklePerSecond:N0} events/s all along, a spike of {traffic.SpikeSize:N0} in {traffic.SpikeDuration.TotalSeconds:0.#} s " +
    $"at {traffic.SpikeStart.TotalSeconds:0.#} s; the consumer is paced at {PacedRate:N0}/s (burst {Burst}).");
Console.WriteLine();

var interval = TimeSpan.FromMilliseconds(shortRun ? 250 : 500);
var terminal = new TimelineView(rateScale: traffic.PeakPerSecond, depthScale: traffic.SpikeSize);
var timeline = new Timeline(buffer, interval, terminal.PrintRow);
terminal.PrintHeader();
using (var stopSampling = new CancellationTokenSource())
{
    var sampling = timeline.RunAsync(stopSampling.Token);
    await traffic.PublishAsync(producer, ledger);
    await ledger.WaitUntilSettledAsync(TimeSpan.FromSeconds(60));

    // One more row, so the chart shows the queue empty and the rates back at the trickle.
    await Task.Delay(interval);
    await stopSampling.CancelAsync();
    await sampling;
}

// Stopping drains the running handlers, so every settlement has reached the store before it is read.
await host.StopAsync();
var snapshot = buffer.GetSnapshot();
var deadLetterIds = (await buffer.GetDeadLettersAsync(Math.Max(1, ledger.Published))).Select(d => d.MessageId).ToHashSet();
var lost = ledger.PublishedIds.Count(id => !ledger.WasHandled(id) && !deadLetterIds.Contains(id));

var summary = timeline.Summarize(PacedRate);
Console.WriteLine();
Console.WriteLine(
    $"peak depth {summary.PeakDepth:N0} at {summary.PeakAt.TotalSeconds:0.0} s; processed {summary.BacklogRate:N0}/s while a backlog waited " +
    $"(paced at {PacedRate:N0}/s); peak arrivals {summary.PeakArrivals:N0}/s; empty again at {summary.DrainedAt.TotalSeconds:0.0} s");
PngChart.Write(chartPath, timeline.Points, PacedRate, $"Load leveling: a spike of {traffic.SpikeSize:N0} events against a consumer paced at {PacedRate:N0}/s");
Console.WriteLine($"chart: {chartPath}");
Console.WriteLine(
    $"published {ledger.Published}, handled {ledger.Handled}, dead-lettered {deadLetterIds.Count}, " +
    $"dropped {snapshot.Dropped}, rejected {snapshot.Rejected}, lost {lost}");
host.Dispose();
await SampleStores.CleanUpAsync(args);
return lost == 0 ? 0 : 1;

string? ValueOf(string option)
{
    var index = Array.IndexOf(args, option);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
