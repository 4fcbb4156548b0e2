using System.Buffers;
using System.Text;
using System.Text.Json;
using MessagingPatterns.Serialization;

namespace MessagingPatterns.PostgreSql;

/// <summary>Turns messages into rows and back: the body through the queue's serializer, headers as JSON text.</summary>
internal sealed class MessageCodec<TMessage>(IMessageSerializer<TMessage> serializer, int maxMessageBytes)
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? s_threadBuffer;

    /// <summary>Serializes a message, checking its size (body plus headers) against the limit.</summary>
    /// <exception cref="ArgumentException">The message is over <see cref="PostgreSqlStoreOptions.MaxMessageBytes"/>, or its id contains NUL or a lone surrogate.</exception>
    public PendingRow ToRow(Message<TMessage> message, string paramName)
    {
        if (!StoredText.IsStorable(message.Id))
        {
            throw new ArgumentException($"The id of message '{message.Id}' contains a NUL character or a lone UTF-16 surrogate, which PostgreSQL text cannot store.", paramName);
        }

        var buffer = s_threadBuffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        serializer.Serialize(message.Body, buffer);
        var body = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 64 * 1024)
        {
            // Do not keep a large buffer alive on every thread that once published a big message.
            s_threadBuffer = null;
        }

        string? headers = message.Headers.Count == 0
            ? null
            : JsonSerializer.Serialize(new Dictionary<string, string>(message.Headers, StringComparer.Ordinal), HeadersJsonContext.Default.DictionaryStringString);
        var size = body.Length + (headers is null ? 0 : Encoding.UTF8.GetByteCount(headers));
        if (size > maxMessageBytes)
        {
            throw new ArgumentException(
                $"Message '{message.Id}' is {size} bytes serialized (body and headers), over the limit of {maxMessageBytes} bytes ({nameof(PostgreSqlStoreOptions)}.{nameof(PostgreSqlStoreOptions.MaxMessageBytes)}).",
                paramName);
        }

        return new PendingRow(message.Id, (short)message.Priority, headers, body);
    }

    /// <summary>Reads a stored message back.</summary>
    /// <exception cref="Exception">The body (or its headers) cannot be read; the caller dead-letters the row.</exception>
    public Message<TMessage> ToMessage(string id, int priority, string? headers, byte[] body, DateTime enqueuedAt)
    {
        var value = serializer.Deserialize(body);
        var headerMap = headers is null ? null : JsonSerializer.Deserialize(headers, HeadersJsonContext.Default.DictionaryStringString);
        return new Message<TMessage>(value, id, priority, headerMap)
        {
            EnqueuedAt = new DateTimeOffset(DateTime.SpecifyKind(enqueuedAt, DateTimeKind.Utc)),
        };
    }
}
