using System.Diagnostics;
using System.Globalization;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// Runs the crash host program (built beside the tests) and counts the lines it prints, so a test can
/// act after real progress instead of after a sleep.
/// </summary>
internal sealed class CrashHostProcess : IDisposable
{
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<(int Lines, TaskCompletionSource Reached)> _waiters = [];
    private int _lines;
    private int _handled;

    private CrashHostProcess(Process process) => _process = process;

    public int Lines => Volatile.Read(ref _lines);

    public int Handled => Volatile.Read(ref _handled);

    public static CrashHostProcess Start(string schema, string ledger, TimeSpan lease)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "MessagingPatterns.PostgreSql.CrashHost.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add(schema);
        start.ArgumentList.Add(ledger);
        start.ArgumentList.Add(((int)lease.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));

        // In the environment rather than the arguments, so the password is not in the process list.
        start.Environment["MESSAGING_POSTGRES_CONNECTION"] = PostgresServer.ConnectionString;

        var process = new Process { StartInfo = start };
        var wrapper = new CrashHostProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        return wrapper;
    }

    /// <summary>Completes once the program has printed at least <paramref name="lines"/> lines.</summary>
    public Task WaitForLinesAsync(int lines)
    {
        lock (_lock)
        {
            if (_lines >= lines)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((lines, reached));
            return reached.Task;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Asks for a clean stop by closing standard input.</summary>
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

        if (line.StartsWith("handled ", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _handled);
        }

        lock (_lock)
        {
            _lines++;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_lines >= _waiters[i].Lines)
                {
                    _waiters[i].Reached.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
