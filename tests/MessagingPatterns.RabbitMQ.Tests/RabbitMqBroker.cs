using System.Diagnostics;
using System.Net.Sockets;
using RabbitMQ.Client;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// The broker the tests use: the one <c>scripts/brokers.sh start rabbitmq</c> runs, at MESSAGING_RABBITMQ_URI
/// (default amqp://guest:guest@127.0.0.1:55672/). When nothing answers, a test is skipped with the reason,
/// unless MESSAGING_REQUIRE_BROKERS=1, which makes it fail.
/// </summary>
internal static class RabbitMqBroker
{
    public const int DefaultPort = 55672;

    /// <summary>The script's AMQP port: MESSAGING_RABBITMQ_PORT, as the script reads it, or its default.</summary>
    public static int Port { get; } = int.TryParse(Environment.GetEnvironmentVariable("MESSAGING_RABBITMQ_PORT"), out var port) ? port : DefaultPort;

    public static string Uri { get; } = Environment.GetEnvironmentVariable("MESSAGING_RABBITMQ_URI") ?? $"amqp://guest:guest@127.0.0.1:{Port}/";

    private static readonly Lazy<bool> s_available = new(() => IsListening(new Uri(Uri)));

    /// <summary>Skips the test when the broker is absent (fails it when brokers are required).</summary>
    public static void RequireOrSkip()
    {
        if (s_available.Value)
        {
            return;
        }

        var reason = $"No RabbitMQ broker answers at {new Uri(Uri).Host}:{new Uri(Uri).Port}; start one with `scripts/brokers.sh start rabbitmq`.";
        if (Environment.GetEnvironmentVariable("MESSAGING_REQUIRE_BROKERS") == "1")
        {
            throw new InvalidOperationException(reason + " MESSAGING_REQUIRE_BROKERS=1 makes this a failure.");
        }

        Skip.If(true, reason);
    }

    public static RabbitMqStoreOptions Options(int prefetch = 64) => new() { ConnectionUri = Uri, PrefetchCount = prefetch, RecoveryInterval = TimeSpan.FromMilliseconds(200) };

    /// <summary>Deletes a store's queues, so a test starts from nothing.</summary>
    public static async Task DeleteQueuesAsync(string name, string? uri = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(uri ?? Uri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeleteAsync(name, ifUnused: false, ifEmpty: false);
        await channel.QueueDeleteAsync(name + ".dead-letter", ifUnused: false, ifEmpty: false);
    }

    /// <summary>A queue name no other test uses.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 60)];

    /// <summary>Runs a <c>rabbitmqctl</c> command against the script's broker on <paramref name="port"/>.</summary>
    public static async Task CtlAsync(string arguments, int? port = null)
    {
        port ??= Port;
        var script = Path.Combine(RepositoryRoot(), "scripts", "brokers", "rabbitmq.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"export MESSAGING_BROKERS_DIR=\"${{MESSAGING_BROKERS_DIR:-/tmp/messaging-brokers}}\" MESSAGING_RABBITMQ_PORT={port}; source \"{script}\"; rabbitmq_env; rabbitmqctl {arguments}");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {arguments} failed: {await error} {await output}");
        }
    }

    /// <summary>Makes the broker close every channel consuming <paramref name="queue"/> with PRECONDITION_FAILED, by acking a tag it never sent there.</summary>
    public static Task CloseConsumerChannelsAsync(string queue) =>
        RabbitMqBroker.CtlAsync(
            "eval '[rabbit_channel:do(proplists:get_value(channel_pid, C), {list_to_atom(\"basic.ack\"), 1000000, false}) "
            + "|| C <- rabbit_amqqueue:consumers_all(<<\"/\">>), element(4, proplists:get_value(queue_name, C)) =:= <<\"" + queue + "\">>].'");

    /// <summary>Runs <c>scripts/brokers.sh ACTION rabbitmq</c> for a broker on <paramref name="port"/>.</summary>
    public static async Task ScriptAsync(string action, int port)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "brokers.sh"));
        start.ArgumentList.Add(action);
        start.ArgumentList.Add("rabbitmq");
        start.Environment["MESSAGING_RABBITMQ_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"brokers.sh {action} rabbitmq failed: {await error} {await output}");
        }
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MessagingPatterns.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root was not found above the test binaries.");
    }

    private static bool IsListening(Uri uri)
    {
        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync(uri.Host, uri.Port).Wait(TimeSpan.FromSeconds(2)) && client.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
