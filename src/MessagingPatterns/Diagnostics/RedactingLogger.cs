using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Diagnostics;

/// <summary>A logger that hands the exceptions it logs to the logger it wraps with their messages redacted.</summary>
internal sealed class RedactingLogger(ILogger inner, Redaction redaction) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        inner.Log(logLevel, eventId, state, exception is null ? null : redaction.ForLog(exception), formatter);
}
