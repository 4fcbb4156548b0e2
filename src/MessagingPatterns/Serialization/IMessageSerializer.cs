using System.Buffers;

namespace MessagingPatterns.Serialization;

/// <summary>
/// Turns message bodies into bytes and back, for stores that keep messages outside the process (the
/// embedded durable store, brokers). In-memory stores never serialize.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// Implementations must be safe to call concurrently, must not take type names from the payload (no
/// <c>BinaryFormatter</c>-style polymorphism), and should throw on a payload they cannot read; the store
/// dead-letters such a message at once with the exception as the reason.
/// </remarks>
public interface IMessageSerializer<TMessage>
{
    /// <summary>Writes <paramref name="body"/> to <paramref name="destination"/>.</summary>
    /// <param name="body">The body; never <see langword="null"/>.</param>
    /// <param name="destination">Where the bytes go.</param>
    void Serialize(TMessage body, IBufferWriter<byte> destination);

    /// <summary>Reads a body written by <see cref="Serialize"/>.</summary>
    /// <param name="payload">The stored bytes.</param>
    /// <returns>The body; never <see langword="null"/>.</returns>
    /// <exception cref="MessageSerializationException">The payload is not a valid body.</exception>
    TMessage Deserialize(ReadOnlySpan<byte> payload);
}
