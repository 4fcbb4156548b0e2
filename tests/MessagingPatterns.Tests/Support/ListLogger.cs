using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Tests.Support;

/// <summary>A logger that keeps what it is given, so a test can assert what an operator would read.</summary>
public sealed class ListLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> _entries = new();

    public IReadOnlyCollection<(LogLevel Level, string Message, Exception? Exception)> Entries => _entries;

    /// <summary>Each entry's structured properties (its state's), as a structured sink would read them.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, object?>> Properties { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _entries.Enqueue((logLevel, formatter(state, exception), exception));
        Properties.Enqueue((state as IEnumerable<KeyValuePair<string, object?>> ?? []).ToDictionary(p => p.Key, p => p.Value));
    }
}
