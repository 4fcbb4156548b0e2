using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MessagingPatterns.Serialization;

/// <summary>
/// The default serializer: UTF-8 JSON through System.Text.Json. Pass a source-generated
/// <see cref="JsonTypeInfo{T}"/> for trim- and AOT-safe contracts. The body's declared type alone decides
/// how it is read; type names in the payload are never honoured.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
public sealed class JsonMessageSerializer<TMessage> : IMessageSerializer<TMessage>
{
    private readonly JsonTypeInfo<TMessage> _typeInfo;

    /// <summary>Creates a serializer using reflection-based contracts.</summary>
    /// <param name="options">The JSON options; <see cref="JsonSerializerOptions.Web"/> when <see langword="null"/>.</param>
    [RequiresUnreferencedCode("Reflection-based JSON contracts may need members that trimming removes; pass a source-generated JsonTypeInfo instead.")]
    [RequiresDynamicCode("Reflection-based JSON contracts may need code generated at run time; pass a source-generated JsonTypeInfo instead.")]
    public JsonMessageSerializer(JsonSerializerOptions? options = null)
    {
        options ??= JsonSerializerOptions.Web;
        _typeInfo = (JsonTypeInfo<TMessage>)options.GetTypeInfo(typeof(TMessage));
    }

    /// <summary>Creates a serializer over a (typically source-generated) contract.</summary>
    /// <param name="typeInfo">The contract, e.g. <c>MyJsonContext.Default.MyMessage</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="typeInfo"/> is <see langword="null"/>.</exception>
    public JsonMessageSerializer(JsonTypeInfo<TMessage> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        _typeInfo = typeInfo;
    }

    /// <inheritdoc/>
    /// <exception cref="MessageSerializationException">The body cannot be written as JSON.</exception>
    public void Serialize(TMessage body, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var writer = new Utf8JsonWriter(destination);
        try
        {
            JsonSerializer.Serialize(writer, body, _typeInfo);
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new MessageSerializationException($"A {typeof(TMessage).Name} body could not be written as JSON: {exception.Message}", exception);
        }
    }

    /// <inheritdoc/>
    public TMessage Deserialize(ReadOnlySpan<byte> payload)
    {
        TMessage? body;
        try
        {
            body = JsonSerializer.Deserialize(payload, _typeInfo);
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new MessageSerializationException($"The stored payload is not a valid {typeof(TMessage).Name}: {exception.Message}", exception);
        }

        return body ?? throw new MessageSerializationException($"The stored payload is JSON null, not a {typeof(TMessage).Name}.");
    }
}
