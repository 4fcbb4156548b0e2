using System.Globalization;

namespace MessagingPatterns;

/// <summary>
/// Generates message ids without allocating: a random per-process prefix plus a counter, formatted only
/// when someone reads the id. A Guid per message would cost about half of the in-memory hot path.
/// </summary>
internal static class MessageIds
{
    private static readonly string s_processPrefix = Guid.NewGuid().ToString("N")[..16];
    private static long s_counter;

    public static long Next() => Interlocked.Increment(ref s_counter);

    public static string Format(long value) =>
        string.Create(CultureInfo.InvariantCulture, $"{s_processPrefix}-{value:x}");
}
