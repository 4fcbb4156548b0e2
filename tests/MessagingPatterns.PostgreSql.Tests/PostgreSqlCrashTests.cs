using System.Collections.Concurrent;
using System.Globalization;
using MessagingPatterns.PostgreSql.CrashHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// Faults while messages flow through a real server, checked with the ledger oracle (RELIABILITY.md): lost = 0, and
/// a message handled twice was redelivered (delivery count of 2 or more) or had a publish whose outcome was unknown.
/// </summary>
public sealed class PostgreSqlCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);
    private readonly string _ledgerDirectory = Directory.CreateTempSubdirectory("mp-postgres-ledger-").FullName;

    [SkippableFact]
    public async Task TwoConsumerProcesses_KilledTenTimesEach_LoseNoAcceptedMessage()
    {
        const int KillsPerProcess = 10;
        const int Batch = 10;
        var seed = 20260219;
        var random = new Random(seed);
        var lease = TimeSpan.FromSeconds(2);
        await using var schema = new TestSchema();
        await using var store = PostgreSqlMessageStore.Create<CrashMessage>("crash", schema.Options());
        await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience);
        var ledgers = new[] { Path.Combine(_ledgerDirectory, "a.txt"), Path.Combine(_ledgerDirectory, "b.txt") };
        var hosts = ledgers.Select(ledger => CrashHostProcess.Start(schema.Name, ledger, lease)).ToArray();
        var accepted = new ConcurrentQueue<string>();
        using var stopPublishing = new CancellationTokenSource();
        long handledByKilled = 0;
        long HandledSoFar() => Interlocked.Read(ref handledByKilled) + hosts.Sum(host => (long)host.Handled);
        try
        {
            await Task.WhenAll(hosts.Select(host => host.WaitForLinesAsync(1))).WaitAsync(s_patience);

            // Published while the processes are killed and restarted, with at most a few hundred waiting, so every kill
            // lands mid-flow and the backlog stays small whatever the machine's speed.
            var publishing = Task.Run(async () =>
            {
                var next = 0L;
                while (!stopPublishing.IsCancellationRequested)
                {
                    if (next - HandledSoFar() >= 200)
                    {
                        // Until a process reports another handling; at most one is down at a time, so one goes on.
                        var current = hosts.ToArray();
                        await Task.WhenAny(current.Select(host => host.WaitForLinesAsync(host.Lines + 1))).WaitAsync(s_patience);
                        continue;
                    }

                    var batch = Enumerable.Range(0, Batch).Select(_ => next++).Select(n => new Message<CrashMessage>(new CrashMessage(n), Id(n))).ToArray();
                    await store.EnqueueBatchAsync(batch);
                    foreach (var message in batch)
                    {
                        accepted.Enqueue(message.Id);
                    }
                }
            });

            for (var kill = 0; kill < KillsPerProcess * hosts.Length; kill++)
            {
                var i = kill % hosts.Length;
                await hosts[i].WaitForLinesAsync(hosts[i].Lines + random.Next(5, 40)).WaitAsync(s_patience);
                hosts[i].Kill();
                await hosts[i].WaitForExitAsync(s_patience);
                output.WriteLine($"kill {kill}: process {i} killed after {hosts[i].Handled} handlings");
                Interlocked.Add(ref handledByKilled, hosts[i].Handled);
                hosts[i].Dispose();

                // Not waited for: the other process works on while this one starts, and its next kill waits for its handlings.
                hosts[i] = CrashHostProcess.Start(schema.Name, ledgers[i], lease);
            }

            await stopPublishing.CancelAsync();
            await publishing.WaitAsync(s_patience);

            // What the killed processes held comes back when its lease ends, and the survivors handle it. Polled: the
            // leases end on the server's clock, and nothing in this process is told when.
            output.WriteLine($"published {accepted.Count}; statistics {await store.GetStatisticsAsync()}");
            await Eventually(async () => (await store.GetStatisticsAsync()) is { Ready: 0, Delayed: 0, InFlight: 0 });
            foreach (var host in hosts)
            {
                host.RequestStop();
            }

            foreach (var host in hosts)
            {
                (await host.WaitForExitAsync(s_patience)).Should().Be(0);
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }

        var report = LedgerReport.Read(ledgers);
        var lost = accepted.Where(id => !report.Handled.ContainsKey(id)).ToList();
        var unexpected = report.Handled.Keys.Except(accepted, StringComparer.Ordinal).ToList();
        var duplicated = report.Handled.Where(pair => pair.Value.Count > 1).ToList();
        output.WriteLine(
            $"seed {seed}: {KillsPerProcess * hosts.Length} kills, {accepted.Count} accepted, {report.Handled.Count} handled, " +
            $"{duplicated.Count} duplicated, {report.TornLines} torn lines");

        accepted.Count.Should().BeGreaterThan(200, "messages flowed during the kills");
        lost.Should().BeEmpty("every message whose publish returned must be handled");
        unexpected.Should().BeEmpty();

        // Two ledgers hold no common order, so the counts are compared as a set: each handling of a message had a
        // delivery count of its own, that is, every repeat was a redelivery.
        duplicated.Where(pair => pair.Value.Distinct().Count() != pair.Value.Count).Should().BeEmpty(
            "a repeat is a redelivery, with a higher delivery count (a run may have no repeats at all)");
        (await store.GetStatisticsAsync()).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [SkippableFact]
    public async Task ServerRestart_WhileMessagesFlow_PublisherAndConsumersResume_AndLoseNothing()
    {
        const int Total = 1_000;
        await using var server = await PrivateServer.StartAsync();
        var schema = PostgresServer.NewSchema();
        var handled = new ConcurrentQueue<(string Id, int DeliveryCount)>();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(handled);
        var handledChanged = new ChangeSignal();
        builder.Services.AddSingleton(handledChanged);
        builder.Services.AddPostgreSqlQueue<CrashMessage>("restart", options =>
            {
                options.ConnectionString = server.ConnectionString;
                options.Schema = schema;
                options.PollInterval = TimeSpan.FromMilliseconds(500);
            })
            .AddConsumer<RecordingConsumer>(options =>
            {
                options.Concurrency = 4;
                options.LeaseDuration = TimeSpan.FromSeconds(3);
                options.MaxDeliveryAttempts = 1_000;
                options.RetryCount = 0;
                options.RedeliveryDelay = TimeSpan.FromMilliseconds(100);
            });
        using var host = builder.Build();
        var producer = host.Services.GetRequiredService<IProducer<CrashMessage>>();
        var store = host.Services.GetRequiredService<IMessageStore<CrashMessage>>();
        await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience);
        await host.StartAsync();

        var accepted = new ConcurrentQueue<string>();
        var uncertain = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var publishing = Task.Run(async () =>
        {
            for (var n = 0L; n < Total; n++)
            {
                var message = new Message<CrashMessage>(new CrashMessage(n), Id(n));
                while (true)
                {
                    try
                    {
                        await producer.PublishAsync(message);
                        accepted.Enqueue(message.Id);
                        break;
                    }
                    catch (Exception exception) when (exception is not OutOfMemoryException)
                    {
                        // Failed or unknown outcome: publish the same message (same id) again after a short backoff,
                        // as a user would (a retry policy, not a wait for the test's sake).
                        uncertain.AddOrUpdate(message.Id, 1, (_, count) => count + 1);
                        await Task.Delay(50);
                    }
                }
            }
        });

        await WhenHandledAsync(handledChanged, () => handled.Count >= Total / 4, s_patience);
        await server.StopAsync();
        output.WriteLine($"server stopped after {handled.Count} handlings, {accepted.Count} accepted");
        await server.StartAgainAsync();
        output.WriteLine($"server started again; {uncertain.Count} publishes failed meanwhile");

        await publishing.WaitAsync(s_patience);
        await WhenHandledAsync(handledChanged, () => accepted.All(handled.Select(h => h.Id).ToHashSet(StringComparer.Ordinal).Contains), TimeSpan.FromMinutes(2));

        // Polled: a message whose ack was lost in the restart comes back when its lease ends on the server's clock.
        await Eventually(async () => (await store.GetStatisticsAsync()) is { Ready: 0, Delayed: 0, InFlight: 0 }, TimeSpan.FromMinutes(2));
        await host.StopAsync().WaitAsync(s_patience);

        var byId = handled.GroupBy(h => h.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(h => h.DeliveryCount).ToList(), StringComparer.Ordinal);
        var duplicated = byId.Where(pair => pair.Value.Count > 1).ToList();
        output.WriteLine($"{accepted.Count} accepted, {byId.Count} handled, {duplicated.Count} duplicated, {uncertain.Count} publishes retried");

        accepted.Should().HaveCount(Total, "the publisher resumed by itself");
        accepted.Where(id => !byId.ContainsKey(id)).Should().BeEmpty("every accepted message is handled");
        duplicated.Where(pair => !uncertain.ContainsKey(pair.Key) && pair.Value.Skip(1).Any(count => count < 2)).Should().BeEmpty(
            "a repeat is a redelivery or follows a publish whose outcome was unknown (a run may have no repeats at all)");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_ledgerDirectory, recursive: true);
        return Task.CompletedTask;
    }

    private static string Id(long number) => string.Create(CultureInfo.InvariantCulture, $"c{number}");

    /// <summary>Waits for a condition, looking again every 100 ms, within the given patience.</summary>
    private static async Task Eventually(Func<Task<bool>> condition, TimeSpan? patience = null)
    {
        using var timeout = new CancellationTokenSource(patience ?? s_patience);
        while (!await condition())
        {
            await Task.Delay(100, timeout.Token);
        }
    }

    /// <summary>Waits until a condition on the handlings holds, woken by each handling, within the given patience.</summary>
    private static async Task WhenHandledAsync(ChangeSignal handledChanged, Func<bool> condition, TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        while (true)
        {
            // Taken before the look, so a handling right after it still wakes this wait.
            var changed = handledChanged.Next();
            if (condition())
            {
                return;
            }

            await changed.WaitAsync(timeout.Token);
        }
    }

    private sealed class RecordingConsumer(ConcurrentQueue<(string Id, int DeliveryCount)> handled, ChangeSignal handledChanged) : IConsumer<CrashMessage>
    {
        public Task ConsumeAsync(MessageContext<CrashMessage> context, CancellationToken cancellationToken)
        {
            handled.Enqueue((context.MessageId, context.DeliveryCount));
            handledChanged.Raise();
            return Task.CompletedTask;
        }
    }
}
