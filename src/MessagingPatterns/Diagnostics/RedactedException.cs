namespace MessagingPatterns.Diagnostics;

/// <summary>
/// Stands for an exception in a log entry when a redaction hook is set: it reads like the original (its type name,
/// stack trace and inner exceptions) but its message, and each inner exception's, went through the hook.
/// </summary>
internal sealed class RedactedException : Exception
{
    private readonly string? _stackTrace;

    public RedactedException(Exception original, Redaction redaction)
        : base(redaction.Text(original.Message), original.InnerException is { } inner ? new RedactedException(inner, redaction) : null)
    {
        OriginalType = original.GetType().FullName ?? original.GetType().Name;
        _stackTrace = original.StackTrace;
        HResult = original.HResult;
        Source = original.Source;
    }

    /// <summary>The full type name of the exception this stands for.</summary>
    public string OriginalType { get; }

    /// <inheritdoc/>
    public override string? StackTrace => _stackTrace;

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = $"{OriginalType}: {Message}";
        if (InnerException is not null)
        {
            text += $"{Environment.NewLine} ---> {InnerException}{Environment.NewLine}   --- End of inner exception stack trace ---";
        }

        return StackTrace is null ? text : text + Environment.NewLine + StackTrace;
    }
}
