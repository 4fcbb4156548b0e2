using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace MessagingPatterns.Tests.Priority;

/// <summary>
/// Measures how long an urgent message waits behind a backlog of low-priority ones with a consumer pool running:
/// publishes one urgent message at a time, at random moments, and times each from its publish to its handler's
/// start. Real time, because what is measured is the runtime's real reaction; the bounds are in handler durations
/// as measured in the same run, so a slow machine slows both sides alike.
/// </summary>
/// <remarks>Shared (as a linked file) with the SQLite tests, so it builds its pool without the core tests' helpers.</remarks>
internal sealed class UrgentStartProbe(IMessageStore<int> store, int urgentPriority)
{
    public static readonly TimeSpan Handler = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);

    private readonly ConcurrentQueue<TimeSpan> _handlerDurations = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<(long At, int LowStarts)>> _urgentStarts = new();
    private int _lowStarts;
    private int _lowHandled;

    /// <summary>
    /// The medians and maximum of one run. <paramref name="MostLowStartsBehind"/> is the most low-priority messages
    /// started between an urgent message's publish and its start in any trial: inversion counted rather than timed,
    /// so a slow disk or a busy machine does not blur it. Without inversion it is at most one per worker (each may
    /// have looked just before the publish).
    /// </summary>
    public sealed record Result(TimeSpan HandlerMedian, TimeSpan WaitMedian, TimeSpan WaitMax, IReadOnlyList<TimeSpan> Waits, int MostLowStartsBehind, int LowHandled)
    {
        public override string ToString() =>
            $"handler median {Ms(HandlerMedian)} ms; urgent wait median {Ms(WaitMedian)} ms ({WaitMedian / HandlerMedian:0.00} handlers), " +
            $"max {Ms(WaitMax)} ms ({WaitMax / HandlerMedian:0.00} handlers); most low starts behind an urgent one {MostLowStartsBehind}; " +
            $"low handled {LowHandled}; waits [{string.Join(", ", Waits.Select(Ms))}]";

        private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs <paramref name="trials"/> trials with a pool of 4 workers prefetching <paramref name="prefetch"/> each.</summary>
    public async Task<Result> RunAsync(int prefetch, int trials, int seed = 18)
    {
        var options = new ConsumerOptions
        {
            Concurrency = 4,
            PrefetchCount = prefetch,
            ResiliencePipeline = ResiliencePipeline.Empty,
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        };
        var scopes = new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>();
        var consumer = new Consumer(this);
        var waits = new List<TimeSpan>();
        var mostLowStartsBehind = 0;
        var random = new Random(seed);
        await using (var pool = new ConsumerWorkerPool<int>(store, scopes, _ => consumer, options))
        {
            await pool.StartAsync(CancellationToken.None);

            // Let every worker fill its prefetch and get going before the first trial.
            var warm = Stopwatch.StartNew();
            while (Volatile.Read(ref _lowHandled) < 4 * 10 && warm.Elapsed < s_patience)
            {
                await Task.Delay(Handler);
            }

            for (var trial = 1; trial <= trials; trial++)
            {
                // A random moment: anywhere within two handler durations, so the urgent message lands at every
                // point of the workers' handlers and prefetched batches.
                await Task.Delay(TimeSpan.FromMilliseconds(random.NextDouble() * 2 * Handler.TotalMilliseconds));
                var started = _urgentStarts.GetOrAdd(-trial, static _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
                // Timed and counted from the publish's return: while a durable store commits it, it is not yet waiting.
                await store.EnqueueAsync(new Message<int>(-trial, $"urgent-{trial}", urgentPriority)).AsTask().WaitAsync(s_patience);
                var published = Stopwatch.GetTimestamp();
                var lowStartsBefore = Volatile.Read(ref _lowStarts);
                var (startedAt, lowStarts) = await started.Task.WaitAsync(s_patience);
                waits.Add(startedAt > published ? Stopwatch.GetElapsedTime(published, startedAt) : TimeSpan.Zero);
                mostLowStartsBehind = Math.Max(mostLowStartsBehind, lowStarts - lowStartsBefore);
            }

            await pool.StopAsync(CancellationToken.None).WaitAsync(s_patience);
        }

        var durations = _handlerDurations.ToArray();
        return new Result(Median(durations), Median(waits), waits.Max(), waits, mostLowStartsBehind, Volatile.Read(ref _lowHandled));
    }

    private static TimeSpan Median(IReadOnlyCollection<TimeSpan> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? TimeSpan.Zero : sorted[sorted.Length / 2];
    }

    private sealed class Consumer(UrgentStartProbe probe) : IConsumer<int>
    {
        public async Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            var start = Stopwatch.GetTimestamp();
            if (context.Body < 0)
            {
                probe._urgentStarts.GetOrAdd(context.Body, static _ => new(TaskCreationOptions.RunContinuationsAsynchronously))
                    .TrySetResult((start, Volatile.Read(ref probe._lowStarts)));
                return;
            }

            Interlocked.Increment(ref probe._lowStarts);
            await Task.Delay(Handler, cancellationToken);
            probe._handlerDurations.Enqueue(Stopwatch.GetElapsedTime(start));
            Interlocked.Increment(ref probe._lowHandled);
        }
    }
}
