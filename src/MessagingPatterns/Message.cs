using System.Collections.ObjectModel;

namespace MessagingPatterns;

/// <summary>
/// A message as it travels through a store: the body plus its id, priority, headers and the time the
/// store accepted it.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// In-memory stores keep this object as it is (no serialization); durable stores persist its parts and
/// create a new instance on every delivery. Treat it as immutable once published.
/// </remarks>
public sealed class Message<TMessage>
{
    /// <summary>The highest priority a message may carry. Stores may allow fewer levels.</summary>
    public const int MaxPriority = 255;

    /// <summary>The longest message id accepted, in characters.</summary>
    public const int MaxIdLength = 200;

    // Sequence while a publish claims the message and before the store has ordered it.
    private const long Claimed = -1;

    // The priority in the top byte, a flag, and the delivery count below: one field, so a message of a small body
    // fits in 64 bytes.
    private const int PriorityShift = 24;
    private const int StartObservedFlag = 1 << (PriorityShift - 1);
    private const int DeliveryCountMask = StartObservedFlag - 1;

    private readonly IReadOnlyDictionary<string, string>? _headers;
    private string? _id;
    private int _priorityAndDeliveryCount;
    private long _enqueuedAtTicks;
    private long _sequence;

    /// <summary>Creates a message.</summary>
    /// <param name="body">The payload. Must not be <see langword="null"/>.</param>
    /// <param name="id">
    /// A unique id, for example an idempotency key. When <see langword="null"/>, an id unique across
    /// processes is generated (lazily, so a message whose id is never read costs no string).
    /// </param>
    /// <param name="priority">0 (lowest, the default) to <see cref="MaxPriority"/>.</param>
    /// <param name="headers">Optional string headers (copied; keys compared ordinally), kept through retries, dead-lettering and redrive.</param>
    /// <exception cref="ArgumentNullException"><paramref name="body"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, white space or longer than <see cref="MaxIdLength"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is outside 0..<see cref="MaxPriority"/>.</exception>
    public Message(TMessage body, string? id = null, int priority = 0, IReadOnlyDictionary<string, string>? headers = null)
    {
        if (body is null)
        {
            throw new ArgumentNullException(nameof(body));
        }

        if (id is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(id);
            if (id.Length > MaxIdLength)
            {
                throw new ArgumentException($"A message id may have at most {MaxIdLength} characters.", nameof(id));
            }

            _id = id;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(priority);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(priority, MaxPriority);

        Body = body;
        _priorityAndDeliveryCount = priority << PriorityShift;
        // Copied: a caller that reuses or changes its dictionary after publishing must not change this message.
        _headers = headers is { Count: > 0 } ? new ReadOnlyDictionary<string, string>(new Dictionary<string, string>(headers, StringComparer.Ordinal)) : null;
    }

    /// <summary>The message id: the one given at creation, or a generated one.</summary>
    public string Id => _id ?? GenerateId();

    /// <summary>The payload.</summary>
    public TMessage Body { get; }

    /// <summary>The priority: higher is more urgent. 0 is the lowest and the default.</summary>
    public int Priority => (int)((uint)_priorityAndDeliveryCount >> PriorityShift);

    /// <summary>The headers; empty when none were given.</summary>
    public IReadOnlyDictionary<string, string> Headers => _headers ?? ReadOnlyDictionary<string, string>.Empty;

    /// <summary>
    /// When a store accepted the message, in UTC; <see langword="default"/> before it was published. Stores
    /// that rebuild messages from storage set it on creation. The message given to a publish is stamped by the
    /// in-memory stores, which keep it (whether or not the publish added a trace context); the durable stores keep a
    /// serialized copy and leave it as it was.
    /// </summary>
    public DateTimeOffset EnqueuedAt
    {
        get => _enqueuedAtTicks == 0 ? default : new DateTimeOffset(_enqueuedAtTicks, TimeSpan.Zero);
        init => _enqueuedAtTicks = value.UtcTicks;
    }

    /// <summary><see cref="EnqueuedAt"/> in UTC ticks, for stores' hot paths (0 before it was published).</summary>
    internal long EnqueuedAtTicks => _enqueuedAtTicks;

    /// <summary>The store's arrival order; in-memory stores use it to keep FIFO within a priority.</summary>
    internal long Sequence
    {
        get => _sequence;
        set => _sequence = value;
    }

    /// <summary>How many leases in-memory stores have granted for this message so far.</summary>
    internal int DeliveryCount
    {
        get => _priorityAndDeliveryCount & DeliveryCountMask;

        // Stores change it under their lock; the priority bits never change, so they are kept as they are.
        set => _priorityAndDeliveryCount = (_priorityAndDeliveryCount & ~DeliveryCountMask) | Math.Min(value, DeliveryCountMask);
    }

    /// <summary>
    /// Whether a priority store has reported this message's first start (for its wait metrics): kept when a consumer
    /// hands the message back unstarted, so its next lease is not reported as a first start again.
    /// </summary>
    internal bool StartObserved
    {
        get => (_priorityAndDeliveryCount & StartObservedFlag) != 0;

        // Under the store's lock, as the delivery count.
        set => _priorityAndDeliveryCount = value ? _priorityAndDeliveryCount | StartObservedFlag : _priorityAndDeliveryCount & ~StartObservedFlag;
    }

    /// <summary>
    /// The next message on whichever of an in-memory store's lists holds this one: the publishes not yet
    /// ordered, or a queue of ready messages (see <c>MessageList</c>).
    /// </summary>
    internal Message<TMessage>? Next { get; set; }

    /// <summary>
    /// Generates the id on first read, once even when read from several threads at once: a message whose id is
    /// never read costs neither a string nor a field for a number to format.
    /// </summary>
    private string GenerateId()
    {
        var generated = MessageIds.Format(MessageIds.Next());
        return Interlocked.CompareExchange(ref _id, generated, null) ?? generated;
    }

    /// <summary>A fresh copy with the same id, body, priority and headers, for publishing an already published message again.</summary>
    internal Message<TMessage> CopyForRepublish() => new(Body, Id, Priority, _headers);

    /// <summary>
    /// A copy with the same id, body and priority and the given headers (a publish's trace context added), not yet
    /// published: a store stamps it as it would have stamped this message, with no second copy.
    /// </summary>
    internal Message<TMessage> WithHeaders(IReadOnlyDictionary<string, string> headers) => new(Body, Id, Priority, headers);

    /// <summary>
    /// Stamps this message as published when a store stamped <paramref name="published"/>, the copy of it that carried
    /// a trace context: whether a caller's message is stamped must not depend on whether a trace was active.
    /// </summary>
    internal void StampedAs(Message<TMessage> published)
    {
        if (!ReferenceEquals(published, this) && published._enqueuedAtTicks != 0)
        {
            TryClaimForPublish(published.EnqueuedAt);
        }
    }

    /// <summary>
    /// Claims a message never published for one publish and stamps its enqueue time; <see langword="false"/>
    /// if it was published before (or is being published concurrently), so the caller publishes a copy.
    /// Atomic because in-memory stores accept publishes without a lock.
    /// </summary>
    internal bool TryClaimForPublish(DateTimeOffset at)
    {
        if (_enqueuedAtTicks != 0 || Interlocked.CompareExchange(ref _sequence, Claimed, 0) != 0)
        {
            return false;
        }

        _enqueuedAtTicks = at.UtcTicks;
        return true;
    }
}
