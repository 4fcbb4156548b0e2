using MessagingPatterns.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.StoreAuthoring;

/// <summary>
/// Applies a user's redaction hook (a store's <c>Redact</c> option) to what a store logs and to the dead-letter reasons
/// it writes, the way the consumer runtime applies <see cref="ConsumerOptions.Redact"/>: an exception's message often
/// quotes the data it failed on. A hook that throws hides the whole text rather than letting it through.
/// </summary>
public static class StoreRedaction
{
    /// <summary>
    /// A logger that writes to <paramref name="logger"/> with the message of every logged exception, and of its inner
    /// exceptions, passed through <paramref name="redact"/>; the exception keeps its type name and stack trace.
    /// </summary>
    /// <param name="logger">The logger to write to.</param>
    /// <param name="redact">The hook; <see langword="null"/> for none, and then <paramref name="logger"/> itself is returned.</param>
    /// <returns>The logger to log through.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logger"/> is <see langword="null"/>.</exception>
    public static ILogger Logger(ILogger logger, Func<string, string>? redact)
    {
        ArgumentNullException.ThrowIfNull(logger);
        return redact is null ? logger : new RedactingLogger(logger, new Redaction(redact));
    }

    /// <summary>The text as <paramref name="redact"/> rewrites it (for a dead-letter reason a store writes).</summary>
    /// <param name="text">The text.</param>
    /// <param name="redact">The hook; <see langword="null"/> for none, and then <paramref name="text"/> itself is returned.</param>
    /// <returns>The text to store.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    public static string Text(string text, Func<string, string>? redact)
    {
        ArgumentNullException.ThrowIfNull(text);
        return redact is null ? text : new Redaction(redact).Text(text);
    }
}
