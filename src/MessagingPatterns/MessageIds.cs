using System.Globalization;

namespace MessagingPatterns;

/// <summary>
/// Generates message ids without allocating: a random per-process prefix plus a counter, taken and formatted only
/// when someone reads the id. A Guid per message would cost about half of the in-memory hot path.
/// </summary>
/// <remarks>
/// Each thread takes a block of counter values at a time, so concurrent publishers do not contend on one
/// shared counter for every message. Ids stay unique; they are not in publish order across threads.
/// </remarks>
internal static class MessageIds
{
    private const int BlockSize = 1024;

    private static readonly string s_processPrefix = Guid.NewGuid().ToString("N")[..16];
    private static long s_counter;

    [ThreadStatic]
    private static long s_threadNext;

    [ThreadStatic]
    private static long s_threadBlockEnd;

    public static long Next()
    {
        if (s_threadNext == s_threadBlockEnd)
        {
            s_threadBlockEnd = Interlocked.Add(ref s_counter, BlockSize) + 1;
            s_threadNext = s_threadBlockEnd - BlockSize;
        }

        return s_threadNext++;
    }

    public static string Format(long value) =>
        string.Create(CultureInfo.InvariantCulture, $"{s_processPrefix}-{value:x}");
}
