using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// A PostgreSQL queue, which can also publish inside the application's own transaction (the outbox pattern):
/// the message commits or rolls back with the business data written on the same connection.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public interface IPostgreSqlMessageStore<TMessage> : IDurableMessageStore<TMessage>
{
    /// <summary>
    /// Inserts a message on the caller's connection, inside <paramref name="transaction"/> when given. It becomes
    /// visible to consumers only when that transaction commits, and is gone if it rolls back. Receivers are woken
    /// by a notification sent with the commit.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="connection">The application's open connection to the store's database.</param>
    /// <param name="transaction">The application's transaction on <paramref name="connection"/>, or <see langword="null"/> to commit at once.</param>
    /// <param name="cancellationToken">Cancels the insert.</param>
    /// <returns>A task that completes when the insert ran (not committed: that is the caller's commit).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> or <paramref name="connection"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The message is over <see cref="PostgreSqlStoreOptions.MaxMessageBytes"/>, or <paramref name="transaction"/> belongs to another connection.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    /// <exception cref="NpgsqlException">The database failed the insert.</exception>
    ValueTask EnqueueAsync(Message<TMessage> message, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>Inserts messages on the caller's connection, in order, inside <paramref name="transaction"/> when given.</summary>
    /// <param name="messages">The messages.</param>
    /// <param name="connection">The application's open connection to the store's database.</param>
    /// <param name="transaction">The application's transaction on <paramref name="connection"/>, or <see langword="null"/> to commit at once.</param>
    /// <param name="cancellationToken">Cancels the insert.</param>
    /// <returns>A task that completes when the insert ran.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/>, one of them, or <paramref name="connection"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A message is over <see cref="PostgreSqlStoreOptions.MaxMessageBytes"/>, or <paramref name="transaction"/> belongs to another connection.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    /// <exception cref="NpgsqlException">The database failed the insert.</exception>
    ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);
}
