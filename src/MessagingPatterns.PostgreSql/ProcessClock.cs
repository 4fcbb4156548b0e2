namespace MessagingPatterns.PostgreSql;

/// <summary>Sends the store's <see cref="TimeProvider"/> time with every statement.</summary>
internal sealed class ProcessClock : PostgreSqlClock
{
    // Rounded down to whole microseconds, the server's precision, so a time read back equals the one sent.
    internal override DateTimeOffset? Now(TimeProvider timeProvider)
    {
        var ticks = timeProvider.GetUtcNow().UtcTicks;
        return new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
    }

    public override string ToString() => nameof(PostgreSqlClock.Process);
}
