namespace MessagingPatterns.Serialization;

/// <summary>A message body could not be serialized, or stored bytes could not be read back as a body.</summary>
public sealed class MessageSerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MessageSerializationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public MessageSerializationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying failure.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The serializer's own exception.</param>
    public MessageSerializationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
