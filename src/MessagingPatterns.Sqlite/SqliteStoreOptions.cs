using System.ComponentModel.DataAnnotations;
using Microsoft.Data.Sqlite;

namespace MessagingPatterns;

/// <summary>Options of the SQLite store. Set exactly one of <see cref="DatabasePath"/> and <see cref="ConnectionString"/>.</summary>
public sealed class SqliteStoreOptions : IValidatableObject
{
    /// <summary>The default of <see cref="MaxMessageBytes"/>: 256 KiB.</summary>
    public const int DefaultMaxMessageBytes = 256 * 1024;

    /// <summary>
    /// The database file. It is created if missing; several queues and several processes may share it
    /// (on a local file system; network file systems break SQLite's locking). Default: <see langword="null"/>.
    /// </summary>
    public string? DatabasePath { get; set; }

    /// <summary>
    /// A full Microsoft.Data.Sqlite connection string, instead of <see cref="DatabasePath"/>. It must name a
    /// database file: an in-memory or temporary database would lose every message when it closes. Pooling is
    /// turned off, since the store keeps one connection open for its life. Default: <see langword="null"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// How hard commits are flushed. <see cref="SqliteSynchronousMode.Normal"/> survives a process crash but
    /// may lose the last commits on power loss. Default: <see cref="SqliteSynchronousMode.Full"/>.
    /// </summary>
    [EnumDataType(typeof(SqliteSynchronousMode))]
    public SqliteSynchronousMode Synchronous { get; set; } = SqliteSynchronousMode.Full;

    /// <summary>
    /// The largest serialized body plus its headers (as stored, UTF-8 JSON) accepted, in bytes (1 to 64 MiB); a larger one is rejected at publish
    /// with an <see cref="ArgumentException"/> before anything is written. Default: 262144 (256 KiB).
    /// </summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>
    /// How often a receiver waiting on an empty queue looks again, to see messages published by other
    /// processes (publishes in this process wake it at once), from 1 ms to 1 hour. Default: 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a write waits for another process's write lock on the file before failing, from 1 ms to
    /// 10 minutes. Default: 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most operations (publishes, receives, acks, releases) coalesced into one transaction, so that
    /// concurrent callers share one disk flush; 1 gives every operation its own transaction (1 to 10000).
    /// Default: 512.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxOperationsPerTransaction { get; set; } = 512;

    /// <summary>
    /// How many times a stored body may fail to deserialize before the message is dead-lettered (with its raw
    /// bytes listable), from 1 to 1000. Between failed reads the message is hidden for the receive's lease, as
    /// if a reader had failed it, so a rolling deploy that briefly runs an old reader beside a new writer does
    /// not dead-letter the new format. 1 dead-letters it at the first failed read. Default: 3.
    /// </summary>
    [Range(1, 1_000)]
    public int MaxFailedReads { get; set; } = 3;

    /// <summary>
    /// Rewrites texts that may carry personal data or secrets before the store stores or logs them: the dead-letter
    /// reason of a body that cannot be read (it quotes the serializer's exception, which may quote the body), and the
    /// message of every exception the store logs, inner exceptions included. Logged exceptions keep their type name
    /// and stack trace. A hook that throws hides the whole text. Reasons given to
    /// <see cref="IMessageStore{TMessage}.DeadLetterAsync"/> are stored as given: the consumer runtime redacts its own
    /// with <see cref="ConsumerOptions.Redact"/>. Default: <see langword="null"/>, texts as they are.
    /// </summary>
    /// <example><c>options.Redact = text => EmailPattern().Replace(text, "[email]");</c></example>
    public Func<string, string>? Redact { get; set; }

    /// <inheritdoc/>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var hasPath = !string.IsNullOrWhiteSpace(DatabasePath);
        var hasConnectionString = !string.IsNullOrWhiteSpace(ConnectionString);
        if (hasPath == hasConnectionString)
        {
            yield return new ValidationResult(
                $"Set exactly one of {nameof(DatabasePath)} and {nameof(ConnectionString)}.",
                [nameof(DatabasePath), nameof(ConnectionString)]);
        }
        else if (hasConnectionString && ConnectionStringProblem(ConnectionString!) is { } problem)
        {
            yield return new ValidationResult(problem, [nameof(ConnectionString)]);
        }
        else if (hasPath && IsInMemory(DatabasePath!))
        {
            yield return new ValidationResult(
                $"{nameof(DatabasePath)} names an in-memory database, which loses every message when it closes; the SQLite store needs a database file.",
                [nameof(DatabasePath)]);
        }
    }

    /// <summary>SQLite's in-memory names: <c>:memory:</c>, and URI file names that ask for memory.</summary>
    private static bool IsInMemory(string path) =>
        path.Trim() == ":memory:" ||
        (path.StartsWith("file:", StringComparison.OrdinalIgnoreCase) &&
            (path.Contains(":memory:", StringComparison.Ordinal) || path.Contains("mode=memory", StringComparison.OrdinalIgnoreCase)));

    private static string? ConnectionStringProblem(string connectionString)
    {
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException exception)
        {
            return $"{nameof(ConnectionString)} is not a valid connection string: {exception.Message}";
        }

        return builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:"
            ? $"{nameof(ConnectionString)} names an in-memory or temporary database, which loses every message when it closes; the SQLite store needs a database file."
            : null;
    }
}
