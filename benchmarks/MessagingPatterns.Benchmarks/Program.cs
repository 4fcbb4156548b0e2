using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project benchmarks/MessagingPatterns.Benchmarks -- [--short] [BenchmarkDotNet args]
// --short runs each benchmark briefly (for CI); without it BenchmarkDotNet picks its own iteration counts.
var shortRun = args.Contains("--short");
var rest = args.Where(a => a != "--short").ToArray();

var config = DefaultConfig.Instance
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.DisableLogFile);
if (shortRun)
{
    config = config.AddJob(Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1));
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
