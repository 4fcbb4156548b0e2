using System.Diagnostics;
using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// A PostgreSQL instance of a test's own (<c>scripts/brokers.sh</c> with another port and folder), which the test
/// may stop and start without disturbing the tests sharing the main server.
/// </summary>
internal sealed class PrivateServer : IAsyncDisposable
{
    private readonly string _port;

    private PrivateServer(string port) => _port = port;

    public string ConnectionString => new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Port = int.Parse(_port, System.Globalization.CultureInfo.InvariantCulture) }.ConnectionString;

    /// <summary>Starts the instance; skips the test when it cannot (fails it under MESSAGING_REQUIRE_BROKERS=1).</summary>
    public static async Task<PrivateServer> StartAsync()
    {
        PostgresServer.Require();
        var server = new PrivateServer(Environment.GetEnvironmentVariable("MESSAGING_POSTGRES_PRIVATE_PORT") ?? "55433");
        var (ok, output) = await server.RunAsync("start");
        if (!ok)
        {
            var reason = $"the private PostgreSQL instance did not start (scripts/brokers.sh start postgres, port {server._port}): {output}";
            if (Environment.GetEnvironmentVariable("MESSAGING_REQUIRE_BROKERS") == "1")
            {
                throw new InvalidOperationException(reason);
            }

            Skip.If(true, reason);
        }

        return server;
    }

    public async Task StopAsync() => (await RunAsync("stop")).Ok.Should().BeTrue("the private server stops");

    public async Task StartAgainAsync() => (await RunAsync("start")).Ok.Should().BeTrue("the private server starts again");

    public async ValueTask DisposeAsync() => await RunAsync("stop");

    private async Task<(bool Ok, string Output)> RunAsync(string action)
    {
        var script = FindScript();
        if (script is null)
        {
            return (false, "scripts/brokers.sh not found above the test's folder");
        }

        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(action);
        start.ArgumentList.Add("postgres");
        start.Environment["MESSAGING_POSTGRES_PORT"] = _port;
        start.Environment.Remove("MESSAGING_POSTGRES_DIR");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode == 0, (await output) + (await error));
    }

    private static string? FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", "brokers.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }

        return null;
    }
}
