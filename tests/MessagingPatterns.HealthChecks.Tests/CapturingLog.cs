using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.HealthChecks.Tests;

/// <summary>A log provider that keeps every line, with its exception's text, as a sink would write it.</summary>
internal sealed class CapturingLog : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue($"{formatter(state, exception)} {exception}");

    public void Dispose()
    {
    }
}
