using System.Globalization;
using MessagingPatterns.Sqlite.CrashHost;
using Xunit.Abstractions;

namespace MessagingPatterns.Sqlite.Tests;

/// <summary>
/// Kills real processes that publish and consume through one database file, and checks with the ledger
/// oracle that every accepted message was handled (RELIABILITY.md: lost = 0, duplicates only from
/// deliveries in flight at a kill).
/// </summary>
public sealed class SqliteCrashTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);
    private readonly TempDatabase _database = new();
    private readonly string _ledgerDirectory = Directory.CreateTempSubdirectory("mp-sqlite-ledger-").FullName;

    [Fact]
    public async Task Kill_AtRandomPointsWhileMessagesFlow_LosesNoAcceptedMessage()
    {
        const int Kills = 24;
        const int PerRun = 150;
        const int Consumers = 2;
        const int ReceiveBuffer = 8;
        var lease = TimeSpan.FromSeconds(3);
        var seed = 20260101;
        var random = new Random(seed);
        var ledger = Path.Combine(_ledgerDirectory, "ledger.txt");

        for (var run = 0; run < Kills; run++)
        {
            using var host = CrashHostProcess.Start(_database.Path, ledger, "work", run * 1_000L, PerRun, lease);

            // "ready" is the first line; after it, every line is a publish or a handling on the ledger.
            var killAfter = 1 + random.Next(10, 140);
            await host.WaitForLinesAsync(killAfter).WaitAsync(s_patience);
            host.Kill();
            await host.WaitForExitAsync(s_patience);
            output.WriteLine($"run {run}: killed after {host.Lines - 1} ledger lines ({host.Handled} handled)");
        }

        using (var drain = CrashHostProcess.Start(_database.Path, ledger, "drain", 0, 0, lease))
        {
            (await drain.WaitForExitAsync(s_patience)).Should().Be(0);
        }

        var report = LedgerReport.Read(ledger);
        var lost = report.PublishedOk.Where(id => !report.Handled.ContainsKey(id)).ToList();
        var unexpected = report.Handled.Keys.Where(id => !IsIssued(id, Kills, PerRun)).ToList();
        var duplicated = report.Handled.Where(pair => pair.Value.Count > 1).ToList();
        var recovered = report.Handled.Keys.Count(id => !report.PublishedOk.Contains(id));
        output.WriteLine(
            $"seed {seed}: {Kills} kills, {report.PublishedOk.Count} accepted, {report.Handled.Count} handled, " +
            $"{duplicated.Count} duplicated, {recovered} recovered (publish outcome unknown at a kill), {report.TornLines} torn lines");

        report.PublishedOk.Count.Should().BeGreaterThan(Kills * 5, "messages flowed between the kills");
        lost.Should().BeEmpty("every message whose publish returned must be handled");
        unexpected.Should().BeEmpty();
        duplicated.Should().AllSatisfy(pair =>
            pair.Value.Skip(1).Should().AllSatisfy(count => count.Should().BeGreaterThanOrEqualTo(2, $"a repeat of {pair.Key} is a redelivery")));
        duplicated.Count.Should().BeLessThanOrEqualTo(Kills * Consumers * ReceiveBuffer, "only deliveries in flight at a kill are repeated");

        await using var store = SqliteMessageStore.Create<CrashMessage>("crash", _database.Options());
        (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
    }

    [Fact]
    public async Task TwoProcesses_CompetingOnOneFile_HandleEachMessageOnce()
    {
        const int Total = 2_000;
        var ledgers = new[] { Path.Combine(_ledgerDirectory, "a.txt"), Path.Combine(_ledgerDirectory, "b.txt") };
        await using var store = SqliteMessageStore.Create<CrashMessage>("crash", _database.Options());
        var hosts = ledgers.Select(ledger => CrashHostProcess.Start(_database.Path, ledger, "consume", 0, 0, TimeSpan.FromSeconds(60))).ToArray();
        try
        {
            await Task.WhenAll(hosts.Select(host => host.WaitForLinesAsync(1))).WaitAsync(s_patience);

            var ids = new List<string>(Total);
            for (var i = 0; i < Total; i += 50)
            {
                var batch = Enumerable.Range(i, 50)
                    .Select(n => new Message<CrashMessage>(new CrashMessage(n), string.Create(CultureInfo.InvariantCulture, $"c{n}")))
                    .ToArray();
                await store.EnqueueBatchAsync(batch).AsTask().WaitAsync(s_patience);
                ids.AddRange(batch.Select(m => m.Id));
            }

            while (hosts.Sum(host => host.Handled) < Total)
            {
                await Task.WhenAny(hosts.Select(host => host.WaitForLinesAsync(host.Lines + 1))).WaitAsync(s_patience);
            }

            foreach (var host in hosts)
            {
                host.RequestStop();
            }

            foreach (var host in hosts)
            {
                (await host.WaitForExitAsync(s_patience)).Should().Be(0);
            }

            var report = LedgerReport.Read(ledgers);
            output.WriteLine($"handled: {string.Join(", ", hosts.Select(h => h.Handled))}");
            report.Handled.Keys.Order(StringComparer.Ordinal).Should().Equal(ids.Order(StringComparer.Ordinal), "nothing is lost");
            report.Handled.Values.Should().AllSatisfy(counts => counts.Should().Equal([1], "without faults nothing is handled twice"));
            // How the work splits between the two processes depends on scheduling, so it is reported, not asserted.
            (await store.GetStatisticsAsync().AsTask().WaitAsync(s_patience)).Should().Be(new StoreStatistics(0, 0, 0, 0));
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _database.Dispose();
        Directory.Delete(_ledgerDirectory, recursive: true);
    }

    private static bool IsIssued(string id, int runs, int perRun) =>
        id.StartsWith('c') &&
        long.TryParse(id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var number) &&
        number / 1_000 < runs && number % 1_000 < perRun;
}
