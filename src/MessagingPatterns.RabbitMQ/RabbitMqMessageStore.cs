using System.Diagnostics.CodeAnalysis;
using MessagingPatterns.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.RabbitMQ;

/// <summary>Creates RabbitMQ stores: a queue on the broker most services already share.</summary>
/// <remarks>
/// <para>
/// Guarantees: a publish completes only after the broker confirmed the persistent message into a durable
/// queue, and throws if the broker refused it, could not route it, or the connection dropped first; a
/// message is removed only by an ack from its current lease holder or a move to the dead-letter queue;
/// deliveries a consumer held when it died or lost its connection are delivered again. The connection
/// recovers by itself after a network cut or a broker restart.
/// </para>
/// <para>
/// Where AMQP differs from the store contract: leases are kept on the client (see
/// <see cref="IMessageStore{TMessage}.ReceiveAsync"/>), so a lease also ends when its channel closes, and the
/// broker's own <c>consumer_timeout</c> (30 minutes by default) closes a channel that holds a delivery
/// longer, however often it was renewed: keep handler timeouts below it. Release delays are held by the
/// store (a crash gives the message back early). A message returned to the queue goes to the back of its
/// priority level. Batches are not atomic. Statistics count in-flight messages of this store only.
/// </para>
/// </remarks>
public static class RabbitMqMessageStore
{
    /// <summary>
    /// Creates a store over a durable RabbitMQ queue named <paramref name="name"/> (and its dead-letter queue,
    /// <c>name.dead-letter</c>). The connection opens, and the queues are declared, on first use.
    /// </summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="name">The queue's name (see <see cref="QueueNames"/>); the broker's queue has the same name.</param>
    /// <param name="options">The options; <see cref="RabbitMqStoreOptions.ConnectionUri"/> is required.</param>
    /// <param name="serializer">How bodies are stored; System.Text.Json (<see cref="JsonMessageSerializer{TMessage}"/>) when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for enqueue times, leases and delays; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where connection losses, recoveries and unreadable messages are logged; none when <see langword="null"/>.</param>
    /// <returns>The store; dispose it to close its connection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The reflection-based JSON default is used only when no serializer is given; trimmed apps pass a source-generated one.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The reflection-based JSON default is used only when no serializer is given; AOT apps pass a source-generated one.")]
    public static IDurableMessageStore<TMessage> Create<TMessage>(
        string name,
        RabbitMqStoreOptions options,
        IMessageSerializer<TMessage>? serializer = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
    {
        QueueNames.ThrowIfInvalid(name);
        ArgumentNullException.ThrowIfNull(options);
        var result = new RabbitMqStoreOptionsValidator().Validate(name, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(name, typeof(RabbitMqStoreOptions), result.Failures);
        }

        return new RabbitMqQueueStore<TMessage>(
            name,
            options,
            serializer ?? new JsonMessageSerializer<TMessage>(),
            timeProvider ?? TimeProvider.System,
            (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(typeof(RabbitMqMessageStore).FullName!));
    }
}
