namespace MessagingPatterns.Diagnostics;

/// <summary>
/// Stands for an exception in a log entry when a redaction hook is set: it reads like the original (its type name,
/// stack trace and inner exceptions, every one of an <see cref="AggregateException"/>'s) but its message, and each
/// inner exception's, went through the hook. The original type is also in the entry's state
/// (<see cref="RedactedLogState{TState}.OriginalTypeKey"/>).
/// </summary>
internal sealed class RedactedException : Exception
{
    private readonly string? _stackTrace;

    // An aggregate's inner exceptions after its first (which is InnerException), so none vanishes from the log.
    private readonly RedactedException[] _moreInner;

    public RedactedException(Exception original, Redaction redaction)
        : base(redaction.Text(original.Message), original.InnerException is { } inner ? new RedactedException(inner, redaction) : null)
    {
        OriginalType = original.GetType().FullName ?? original.GetType().Name;
        _stackTrace = original.StackTrace;
        HResult = original.HResult;
        Source = original.Source;
        _moreInner = original is AggregateException { InnerExceptions.Count: > 1 } aggregate
            ? [.. aggregate.InnerExceptions.Skip(1).Select(inner => new RedactedException(inner, redaction))]
            : [];
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

        foreach (var inner in _moreInner)
        {
            text += $"{Environment.NewLine} ---> {inner}{Environment.NewLine}   --- End of inner exception stack trace ---";
        }

        return StackTrace is null ? text : text + Environment.NewLine + StackTrace;
    }
}
