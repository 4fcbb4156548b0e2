using System.Diagnostics.CodeAnalysis;
using MessagingPatterns.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Sqlite;

/// <summary>Creates SQLite stores: the embedded durable default for surviving a crash on one machine.</summary>
/// <remarks>
/// <para>
/// Guarantees: a publish returns only after its transaction committed (with
/// <see cref="SqliteSynchronousMode.Full"/>, flushed to disk); a message is removed only by an ack from its
/// current lease holder or a move to the dead-letter table; a leased message whose holder died is
/// delivered again, with a higher delivery count, once its lease ends. Concurrent publishes, receives and
/// acks of one store are coalesced into shared transactions (group commit), each caller released only
/// after the commit.
/// </para>
/// <para>
/// Several stores and processes may share one database file (on a local file system) and compete for
/// its messages. Lease ends and release delays are written with the clock of the process that wrote
/// them, so processes sharing a file need synchronized clocks. A receiver waiting on an empty queue wakes
/// at once for publishes through the same store, and within
/// <see cref="SqliteStoreOptions.PollInterval"/> for publishes by other processes.
/// </para>
/// <para>
/// A stored body that cannot be deserialized is hidden for the receive's lease and tried again, and moved to
/// the dead-letter table after <see cref="SqliteStoreOptions.MaxFailedReads"/> failed reads, with the
/// exception as the reason; never dropped. Such an entry is listed by
/// <see cref="IMessageStore{TMessage}.BrowseDeadLettersAsync"/> with its stored bytes
/// (<see cref="DeadLetter{TMessage}.RawBody"/>), and can be purged or redriven like any other.
/// </para>
/// </remarks>
public static class SqliteMessageStore
{
    /// <summary>
    /// Creates (or opens) a durable queue in a SQLite database file. A publish returns only after its
    /// transaction committed; messages survive a killed process and are delivered after restart.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>); its tables are named after it.</param>
    /// <param name="options">The options; <see cref="SqliteStoreOptions.DatabasePath"/> or <see cref="SqliteStoreOptions.ConnectionString"/> is required.</param>
    /// <param name="serializer">How bodies are stored; System.Text.Json (<see cref="JsonMessageSerializer{TMessage}"/>) when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for enqueue times, leases and delays; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">Where the store logs failed transactions and unreadable messages; none when <see langword="null"/>.</param>
    /// <returns>The store; dispose it to close the database.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The database cannot be opened or its tables created.</exception>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The reflection-based JSON default is used only when no serializer is given; trimmed apps pass a source-generated one.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The reflection-based JSON default is used only when no serializer is given; AOT apps pass a source-generated one.")]
    public static IDurableMessageStore<TMessage> Create<TMessage>(
        string name,
        SqliteStoreOptions options,
        IMessageSerializer<TMessage>? serializer = null,
        TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        QueueNames.ThrowIfInvalid(name);
        ArgumentNullException.ThrowIfNull(options);
        var result = new SqliteStoreOptionsValidator().Validate(name, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(name, typeof(SqliteStoreOptions), result.Failures);
        }

        return new SqliteQueueStore<TMessage>(
            name,
            options,
            serializer ?? new JsonMessageSerializer<TMessage>(),
            timeProvider ?? TimeProvider.System,
            logger);
    }
}
