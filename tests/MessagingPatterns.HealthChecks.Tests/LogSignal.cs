using Microsoft.Extensions.Logging;

namespace MessagingPatterns.HealthChecks.Tests;

/// <summary>A log provider that completes a task when a line containing the given text is logged.</summary>
internal sealed class LogSignal(string text) : ILoggerProvider, ILogger
{
    public TaskCompletionSource Logged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (formatter(state, exception).Contains(text, StringComparison.Ordinal))
        {
            Logged.TrySetResult();
        }
    }

    public void Dispose()
    {
    }
}
