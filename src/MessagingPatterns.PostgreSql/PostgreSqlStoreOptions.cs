using System.ComponentModel.DataAnnotations;
using MessagingPatterns.PostgreSql;
using Npgsql;

namespace MessagingPatterns;

/// <summary>Options of the PostgreSQL store. <see cref="ConnectionString"/> is required.</summary>
public sealed class PostgreSqlStoreOptions : IValidatableObject
{
    /// <summary>The default of <see cref="MaxMessageBytes"/>: 256 KiB.</summary>
    public const int DefaultMaxMessageBytes = 256 * 1024;

    /// <summary>The default of <see cref="Schema"/>: <c>messaging</c>.</summary>
    public const string DefaultSchema = "messaging";

    /// <summary>
    /// The Npgsql connection string of the database holding the queues. It is never written to logs or
    /// exception messages. Default: <see langword="null"/> (required).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The schema holding the store's two tables, shared by every queue (a lowercase letter or '_', then up
    /// to 47 lowercase letters, digits or '_'). Default: <c>messaging</c>.
    /// </summary>
    [Required]
    [RegularExpression(PostgreSqlSchema.SchemaPattern, ErrorMessage = "The Schema must be a lowercase letter or '_', then up to 47 lowercase letters, digits or '_'.")]
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>
    /// Whether the store creates its schema, tables and indexes on first use (idempotent, serialized across
    /// processes by an advisory lock). Turn it off when the schema is provisioned by hand from the package's
    /// <c>schema.sql</c> and the application's role may not create tables. Default: <see langword="true"/>.
    /// </summary>
    public bool CreateSchema { get; set; } = true;

    /// <summary>
    /// Which clock leases, delays and enqueue times follow. Default: <see cref="PostgreSqlClock.Database"/>,
    /// so consumers on machines whose clocks disagree still agree on every lease.
    /// </summary>
    [Required]
    public PostgreSqlClock Clock { get; set; } = PostgreSqlClock.Database;

    /// <summary>
    /// The largest serialized body plus headers accepted, in bytes (1 to 64 MiB); a larger message is rejected
    /// at publish with an <see cref="ArgumentException"/> before anything is written. Default: 262144 (256 KiB).
    /// </summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>
    /// The longest a receiver waiting on an empty queue goes without looking again (10 ms to 1 hour). Publishes
    /// wake it at once through LISTEN/NOTIFY; the poll bounds the wait when a notification is lost (for example
    /// while the listening connection reconnects). Default: 5 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the wake-up listener's connection may stay silent before a ping checks it, so a connection left
    /// half-open (a failover or partition without a reset) is found and replaced. Internal: tests shorten it.
    /// </summary>
    internal TimeSpan ListenerPingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most publishes and settles (acks, releases, renewals, dead-letters) coalesced into one transaction,
    /// so concurrent callers share one round trip and one commit; 1 gives every operation its own transaction
    /// (1 to 10000). Default: 512.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxOperationsPerTransaction { get; set; } = 512;

    /// <summary>
    /// How long disposing the store waits for publishes and settles already queued to commit (0 to 1 hour). Past it,
    /// the connect or transaction in progress is abandoned (its outcome unknown, as for a lost connection) and what
    /// is still queued fails with <see cref="ObjectDisposedException"/>, so a dispose ends in bounded time even when
    /// the server does not answer. Default: 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many times a stored body may fail to deserialize before the message is dead-lettered (with its raw
    /// bytes listable), from 1 to 1000. Between failed reads the message is hidden for the receive's lease, as
    /// if a reader had failed it, so a rolling deploy that briefly runs an old reader beside a new writer does
    /// not dead-letter the new format; a failed read is not counted as a delivery. 1 dead-letters it at the
    /// first failed read. Default: 3.
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
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult($"{nameof(ConnectionString)} is required.", [nameof(ConnectionString)]);
            yield break;
        }

        string? problem = null;
        try
        {
            _ = new NpgsqlConnectionStringBuilder(ConnectionString);
        }
        catch (ArgumentException)
        {
            // The parser's message may quote the string, password included; say only which option is wrong.
            problem = $"{nameof(ConnectionString)} is not a valid Npgsql connection string.";
        }

        if (problem is not null)
        {
            yield return new ValidationResult(problem, [nameof(ConnectionString)]);
        }
    }
}
