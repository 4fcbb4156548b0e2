using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// The session settings the store's promises rest on, pinned on its own connections whatever the server's,
/// database's, role's or connection string's defaults say.
/// </summary>
/// <remarks>
/// <c>synchronous_commit=on</c>: a publish or settle is reported done only once its commit is flushed to disk
/// (and to synchronous standbys, if any), which is what "accepted" means; <c>off</c>, a common tuning, would
/// lose accepted messages in a server crash. <c>read committed</c>: a lease statement skips locked rows and a
/// settle re-checks its lease token on the row's latest version; under repeatable read or serializable both
/// fail with serialization errors instead. Sent as startup options, so they cost no round trip.
/// </remarks>
internal static class SessionSettings
{
    private const string Pinned = @"-c synchronous_commit=on -c default_transaction_isolation=read\ committed";

    /// <summary>The connection string with the settings appended to its Options (later settings win).</summary>
    public static string Apply(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? Pinned : $"{builder.Options} {Pinned}";
        return builder.ConnectionString;
    }
}
