using System.ComponentModel.DataAnnotations;

namespace MessagingPatterns;

/// <summary>Options of the RabbitMQ store. <see cref="ConnectionUri"/> is required.</summary>
public sealed class RabbitMqStoreOptions : IValidatableObject
{
    /// <summary>The default of <see cref="MaxMessageBytes"/>: 256 KiB.</summary>
    public const int DefaultMaxMessageBytes = 256 * 1024;

    /// <summary>
    /// The broker, as an AMQP URI: <c>amqp://user:password@host:port/vhost</c> (or <c>amqps://</c>). The
    /// password is never written to logs or exception messages. Default: <see langword="null"/>.
    /// </summary>
    public string? ConnectionUri { get; set; }

    /// <summary>
    /// The highest message priority the queue accepts, declared as the queue's <c>x-max-priority</c>
    /// (0 to 255; 0 declares a queue without priorities). A publish with a higher priority throws
    /// <see cref="ArgumentOutOfRangeException"/>. The broker keeps one internal queue per level, so keep it
    /// small. It is part of the queue's declaration: changing it for an existing queue makes the broker
    /// refuse the declaration. Default: 9.
    /// </summary>
    [Range(0, 255)]
    public int MaxPriority { get; set; } = 9;

    /// <summary>
    /// How many unacknowledged messages the broker sends this store ahead of its receivers (AMQP
    /// <c>basic.qos</c>), 1 to 65535. Set it to at least the consumer runtime's concurrency times its
    /// prefetch. Messages released with a delay are held by the store and count against it. Default: 64.
    /// </summary>
    [Range(1, ushort.MaxValue)]
    public int PrefetchCount { get; set; } = 64;

    /// <summary>
    /// The largest serialized body accepted, in bytes (1 to 128 MiB, the broker's own limit); a larger one
    /// is rejected at publish with an <see cref="ArgumentException"/> before anything is sent. Default:
    /// 262144 (256 KiB).
    /// </summary>
    [Range(1, 128 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>
    /// How long the client waits between attempts to reconnect after the connection was lost, from 100 ms
    /// to 5 minutes. Default: 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:05:00")]
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The name this store's connection shows in the broker's management tools, or <see langword="null"/>
    /// for one made from the queue's name. Default: <see langword="null"/>.
    /// </summary>
    public string? ConnectionName { get; set; }

    /// <summary>
    /// Rewrites texts that may carry personal data or secrets before the store stores or logs them: the dead-letter
    /// reason of a body that cannot be read (it quotes the serializer's exception, which may quote the body), and the
    /// message of every exception the store logs, inner exceptions included. Logged exceptions keep their type name
    /// and stack trace. A hook that throws hides the whole text. Reasons given to
    /// <see cref="IMessageStore{TMessage}.DeadLetterAsync"/> are stored as given: the consumer runtime redacts its own
    /// with <see cref="ConsumerOptions.Redact"/>. The broker's reply text is rewritten too when it closes the connection
    /// or the consumer channel. Default: <see langword="null"/>, texts as they are.
    /// </summary>
    /// <example><c>options.Redact = text => EmailPattern().Replace(text, "[email]");</c></example>
    public Func<string, string>? Redact { get; set; }

    /// <inheritdoc/>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        // The URI itself is never quoted: it may hold a password.
        if (string.IsNullOrWhiteSpace(ConnectionUri))
        {
            yield return new ValidationResult($"{nameof(ConnectionUri)} is required (amqp://user:password@host:port/vhost).", [nameof(ConnectionUri)]);
        }
        else if (!Uri.TryCreate(ConnectionUri, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
        {
            yield return new ValidationResult($"{nameof(ConnectionUri)} is not an amqp:// or amqps:// URI with a host.", [nameof(ConnectionUri)]);
        }
    }
}
