using System.Diagnostics.CodeAnalysis;
using MessagingPatterns.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.PostgreSql;

/// <summary>Creates PostgreSQL stores: durable queues that services on several machines share.</summary>
/// <remarks>
/// <para>
/// Guarantees: a publish returns only after its transaction committed (durable as the server's
/// <c>synchronous_commit</c> makes it; on by default); a message is removed only by an ack from its current lease
/// holder or a move to the dead-letter table; a leased message whose holder died is delivered again, with a
/// higher delivery count, once its lease ends. Concurrent publishes and settles of one store share transactions
/// (group commit), each caller released only after the commit.
/// </para>
/// <para>
/// Receivers in any number of processes compete with <c>FOR UPDATE SKIP LOCKED</c>, in priority order, then
/// publish order. Leases and delays are timed by the database server's clock (see <see cref="PostgreSqlClock"/>),
/// so machines with skewed clocks agree. A waiting receiver wakes through LISTEN/NOTIFY when a publish commits
/// anywhere, and looks again at least every <see cref="PostgreSqlStoreOptions.PollInterval"/>.
/// </para>
/// <para>
/// A stored body that cannot be deserialized is moved to the dead-letter table at once, with the exception as
/// the reason. Connection strings (and their passwords) appear in no log or exception message of the store.
/// </para>
/// </remarks>
public static class PostgreSqlMessageStore
{
    /// <summary>
    /// Creates a durable queue in a PostgreSQL database. The schema is created on first use unless
    /// <see cref="PostgreSqlStoreOptions.CreateSchema"/> is off; no connection is opened before then.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>), stored in each of its rows.</param>
    /// <param name="options">The options; <see cref="PostgreSqlStoreOptions.ConnectionString"/> is required.</param>
    /// <param name="serializer">How bodies are stored; System.Text.Json (<see cref="JsonMessageSerializer{TMessage}"/>) when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for waits, and for times when <see cref="PostgreSqlStoreOptions.Clock"/> is <see cref="PostgreSqlClock.Process"/>; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">Where the store reports lost connections and failed transactions; none when <see langword="null"/>.</param>
    /// <returns>The store; dispose it to close its connections.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The reflection-based JSON default is used only when no serializer is given; trimmed apps pass a source-generated one.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The reflection-based JSON default is used only when no serializer is given; AOT apps pass a source-generated one.")]
    public static IPostgreSqlMessageStore<TMessage> Create<TMessage>(
        string name,
        PostgreSqlStoreOptions options,
        IMessageSerializer<TMessage>? serializer = null,
        TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        QueueNames.ThrowIfInvalid(name);
        ArgumentNullException.ThrowIfNull(options);
        var result = new PostgreSqlStoreOptionsValidator().Validate(name, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(name, typeof(PostgreSqlStoreOptions), result.Failures);
        }

        return new PostgreSqlQueueStore<TMessage>(
            name,
            options,
            serializer ?? new JsonMessageSerializer<TMessage>(),
            timeProvider ?? TimeProvider.System,
            logger ?? NullLogger.Instance);
    }
}
