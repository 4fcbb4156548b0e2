namespace MessagingPatterns.PostgreSql;

/// <summary>Leaves "now" to the server: every statement computes it with <c>now()</c>.</summary>
internal sealed class DatabaseClock : PostgreSqlClock
{
    internal override DateTimeOffset? Now(TimeProvider timeProvider) => null;

    public override string ToString() => nameof(PostgreSqlClock.Database);
}
