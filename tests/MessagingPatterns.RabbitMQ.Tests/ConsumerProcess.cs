using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// The crash host (a consumer process built beside the tests): started, read line by line into a shared
/// delivery record, and killed with SIGKILL or stopped by closing its standard input.
/// </summary>
internal sealed class ConsumerProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<(string Id, int DeliveryCount)> _deliveries;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _handled;

    private ConsumerProcess(Process process, ConcurrentQueue<(string, int)> deliveries)
    {
        _process = process;
        _deliveries = deliveries;
    }

    public int Handled => Volatile.Read(ref _handled);

    public Task Ready => _ready.Task;

    public static ConsumerProcess Start(string uri, string queue, int prefetch, ConcurrentQueue<(string, int)> deliveries)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "MessagingPatterns.RabbitMQ.CrashHost.dll"));
        start.ArgumentList.Add(uri);
        start.ArgumentList.Add(queue);
        start.ArgumentList.Add(prefetch.ToString(CultureInfo.InvariantCulture));
        var process = new Process { StartInfo = start };
        var wrapper = new ConsumerProcess(process, deliveries);
        process.OutputDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        return wrapper;
    }

    /// <summary>Completes once this process has printed at least <paramref name="handled"/> deliveries.</summary>
    public async Task WaitForHandledAsync(int handled, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Handled < handled)
        {
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new TimeoutException($"The consumer process handled {Handled} of {handled} (exited: {_process.HasExited}).");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public void RequestStop() => _process.StandardInput.Close();

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line == "ready")
        {
            _ready.TrySetResult();
            return;
        }

        var parts = line.Split(' ');
        if (parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            _deliveries.Enqueue((parts[0], count));
            Interlocked.Increment(ref _handled);
        }
    }
}
