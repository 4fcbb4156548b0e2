using System.Text;
using RabbitMQ.Client;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// A message as the broker holds it: the serialized body and the store's headers, copied out of the
/// client's buffers (which are reused once a delivery callback returns). Releases, dead-lettering and
/// redrive publish it again with changed headers, without deserializing the body.
/// </summary>
internal sealed class StoredMessage
{
    private static readonly Dictionary<string, string> s_noHeaders = new(StringComparer.Ordinal);
    private static long s_deadLetterCounter;

    public StoredMessage(string id, int priority, long enqueuedAtTicks, long deliveries, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body)
    {
        Id = id;
        Priority = priority;
        EnqueuedAtTicks = enqueuedAtTicks;
        Deliveries = deliveries;
        Headers = headers;
        Body = body;
    }

    public string Id { get; }

    public int Priority { get; }

    public long EnqueuedAtTicks { get; }

    /// <summary>How many leases were granted before this copy was published.</summary>
    public long Deliveries { get; }

    /// <summary>The application's headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Why it was dead-lettered (dead-letter queue only).</summary>
    public string? Reason { get; init; }

    /// <summary>When it was dead-lettered, in UTC ticks (dead-letter queue only).</summary>
    public long DeadLetteredAtTicks { get; init; }

    /// <summary>Its position for paging through the dead-letter queue (see <see cref="AmqpHeaders.DeadLetterKey"/>).</summary>
    public string? DeadLetterKey { get; init; }

    /// <summary>Copies a delivered message out of the client's buffers.</summary>
    public static StoredMessage Copy(IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body)
    {
        string? id = null;
        string? reason = null;
        string? deadLetterKey = null;
        long enqueuedAt = 0, deliveries = 0, deadLetteredAt = 0;
        Dictionary<string, string>? headers = null;
        if (properties.Headers is { } amqpHeaders)
        {
            foreach (var (key, value) in amqpHeaders)
            {
                switch (key)
                {
                    case AmqpHeaders.Id: id = Text(value); break;
                    case AmqpHeaders.EnqueuedAt: enqueuedAt = Number(value); break;
                    case AmqpHeaders.Deliveries: deliveries = Number(value); break;
                    case AmqpHeaders.Reason: reason = Text(value); break;
                    case AmqpHeaders.DeadLetteredAt: deadLetteredAt = Number(value); break;
                    case AmqpHeaders.DeadLetterKey: deadLetterKey = Text(value); break;
                    default:
                        if (!key.StartsWith(AmqpHeaders.ReservedPrefix, StringComparison.Ordinal) && value is not null)
                        {
                            (headers ??= new Dictionary<string, string>(StringComparer.Ordinal))[key] = Text(value);
                        }

                        break;
                }
            }
        }

        // A message published by another client carries none of our headers: its AMQP id, or a new one.
        id ??= string.IsNullOrEmpty(properties.MessageId) ? Guid.NewGuid().ToString("N") : properties.MessageId;
        return new StoredMessage(id, properties.Priority, enqueuedAt, deliveries, headers ?? s_noHeaders, body.ToArray())
        {
            Reason = reason,
            DeadLetteredAtTicks = deadLetteredAt,
            DeadLetterKey = deadLetterKey,
        };
    }

    /// <summary>A copy with another delivery count and no dead-letter details, for publishing to the queue again.</summary>
    public StoredMessage WithDeliveries(long deliveries) => new(Id, Priority, EnqueuedAtTicks, deliveries, Headers, Body);

    /// <summary>A copy for the dead-letter queue.</summary>
    public StoredMessage AsDeadLetter(long deliveries, string reason, long atTicks) => new(Id, Priority, EnqueuedAtTicks, deliveries, Headers, Body)
    {
        Reason = reason,
        DeadLetteredAtTicks = atTicks,
        DeadLetterKey = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{atTicks:D19}.{Interlocked.Increment(ref s_deadLetterCounter):D19}"),
    };

    /// <summary>The AMQP properties that carry this message: persistent, with its priority and headers.</summary>
    public BasicProperties ToProperties()
    {
        var headers = new Dictionary<string, object?>(Headers.Count + 5, StringComparer.Ordinal);
        foreach (var (key, value) in Headers)
        {
            headers[key] = value;
        }

        headers[AmqpHeaders.Id] = Id;
        headers[AmqpHeaders.EnqueuedAt] = EnqueuedAtTicks;
        headers[AmqpHeaders.Deliveries] = Deliveries;
        if (Reason is not null)
        {
            headers[AmqpHeaders.Reason] = Reason;
            headers[AmqpHeaders.DeadLetteredAt] = DeadLetteredAtTicks;
            headers[AmqpHeaders.DeadLetterKey] = DeadLetterKey;
        }

        return new BasicProperties
        {
            DeliveryMode = DeliveryModes.Persistent,
            Priority = (byte)Priority,
            Headers = headers,
        };
    }

    private static string Text(object? value) => value switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        null => string.Empty,
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
    };

    private static long Number(object? value) => value switch
    {
        long l => l,
        int i => i,
        byte[] bytes when long.TryParse(Encoding.UTF8.GetString(bytes), System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => 0,
    };
}
