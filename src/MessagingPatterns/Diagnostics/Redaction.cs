namespace MessagingPatterns.Diagnostics;

/// <summary>
/// Applies the user's redaction hook (<see cref="ConsumerOptions.Redact"/>) to texts the runtime stores or logs.
/// A hook that throws hides the whole text rather than letting it through, or failing the delivery.
/// </summary>
internal sealed class Redaction
{
    /// <summary>What stands for a text whose redaction failed.</summary>
    internal const string Failed = "[redaction failed]";

    private readonly Func<string, string> _redact;

    public Redaction(Func<string, string> redact) => _redact = redact;

    /// <summary>The text as the hook rewrites it.</summary>
    public string Text(string text)
    {
        try
        {
            return _redact(text) ?? string.Empty;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Failed;
        }
    }

    /// <summary>An exception to log in place of <paramref name="exception"/>: its type and stack trace, its message (and its inner exceptions') redacted.</summary>
    public Exception ForLog(Exception exception) => new RedactedException(exception, this);
}
