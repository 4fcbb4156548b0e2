using System.Globalization;
using System.Text;

namespace MessagingPatterns.PostgreSql.CrashHost;

/// <summary>
/// The append-only record the crash test checks. Each line is written and flushed before the step it
/// records is reported as done, and ends with " #" so a line cut by a kill is recognisable and ignored.
/// Every line is also echoed to standard output, which the test counts to decide when to kill.
/// </summary>
internal sealed class Ledger : IDisposable
{
    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;

    public Ledger(string path)
    {
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _writer = new StreamWriter(stream, new UTF8Encoding(false));

        // Starts on a fresh line, in case the previous process was killed in the middle of one.
        _writer.Write('\n');
        _writer.Flush();
    }

    public void Handled(string id, int deliveryCount) => Write(string.Create(CultureInfo.InvariantCulture, $"handled {id} {deliveryCount} #"));

    public void Dispose() => _writer.Dispose();

    private void Write(string line)
    {
        lock (_lock)
        {
            _writer.Write(line);
            _writer.Write('\n');
            _writer.Flush();
        }

        Console.Out.WriteLine(line);
    }
}
