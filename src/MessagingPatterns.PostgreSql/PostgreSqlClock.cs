using MessagingPatterns.PostgreSql;

namespace MessagingPatterns;

/// <summary>
/// Which clock a PostgreSQL store reads "now" from, for lease ends, release delays and enqueue times.
/// </summary>
/// <remarks>
/// Use <see cref="Database"/> (the default) whenever consumers run in more than one process: every lease is
/// then timed by the one server clock, so a consumer whose machine clock is off neither takes a live lease nor
/// keeps a dead one. <see cref="Process"/> reads the store's <see cref="TimeProvider"/> instead: for tests on a
/// fake clock, or for one process that wants its own time base.
/// </remarks>
public abstract class PostgreSqlClock
{
    private protected PostgreSqlClock()
    {
    }

    /// <summary>The database server's clock (<c>now()</c>): processes with skewed clocks agree on every lease.</summary>
    public static PostgreSqlClock Database { get; } = new DatabaseClock();

    /// <summary>The store's <see cref="TimeProvider"/>: only for a single process or a test on a fake clock.</summary>
    public static PostgreSqlClock Process { get; } = new ProcessClock();

    /// <summary>The time sent with a statement, or <see langword="null"/> to let the server use <c>now()</c>.</summary>
    internal abstract DateTimeOffset? Now(TimeProvider timeProvider);
}
