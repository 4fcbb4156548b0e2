using Microsoft.Extensions.Logging;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// A logger for the writer's thread: a sink that throws loses its line, never the thread. An exception escaping that
/// thread would end the process, and one escaping a failure path would leave its caller waiting forever.
/// </summary>
/// <param name="inner">The logger the lines go to.</param>
internal sealed class SinkSafeLogger(ILogger inner) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // Nowhere left to report it: the sink that failed is the place it would go.
        }
    }
}
