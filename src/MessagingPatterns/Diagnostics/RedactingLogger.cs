using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// A logger that hands the exceptions it logs to the logger it wraps with their messages redacted, and the original
/// exception's type in the entry's state (<see cref="RedactedLogState{TState}.OriginalTypeKey"/>).
/// </summary>
internal sealed class RedactingLogger(ILogger inner, Redaction redaction) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is null)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }

        if (!inner.IsEnabled(logLevel))
        {
            return;
        }

        var originalType = exception.GetType().FullName ?? exception.GetType().Name;
        inner.Log(
            logLevel,
            eventId,
            new RedactedLogState<TState>(state, originalType),
            redaction.ForLog(exception),
            (redacted, e) => formatter(redacted.State, e));
    }
}
