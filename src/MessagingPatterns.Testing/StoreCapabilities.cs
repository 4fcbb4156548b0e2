namespace MessagingPatterns.Testing;

/// <summary>
/// What a store promises beyond the contract every store keeps, declared by its conformance test class.
/// The kit tests each promise a store makes and skips (with the reason) the tests of promises it does not
/// make, so a broker store that cannot offer a guarantee is tested for what it does promise.
/// </summary>
/// <remarks>The defaults describe the in-memory stores: every promise except durability, priority levels and a bound.</remarks>
public sealed record StoreCapabilities
{
    private readonly int _priorityLevels = 1;
    private readonly int? _capacity;
    private readonly TimeSpan _delayPrecision;

    /// <summary>
    /// Accepted messages survive disposing the store and creating it again under the same name (a file, a
    /// server). Default <see langword="false"/>.
    /// </summary>
    public bool DurableAcrossReopen { get; init; }

    /// <summary>
    /// A released or expired message keeps its place: it is delivered before messages of its priority
    /// published after it. Default <see langword="true"/>.
    /// </summary>
    public bool StrictFifoUnderRedelivery { get; init; } = true;

    /// <summary>
    /// <see cref="IMessageStore{TMessage}.GetStatisticsAsync"/> counts exactly, at once, what the store holds.
    /// Default <see langword="true"/>.
    /// </summary>
    public bool ExactStatistics { get; init; } = true;

    /// <summary>
    /// <see cref="StoreStatistics.OldestReadyAge"/> says how long the oldest ready message has waited.
    /// <see langword="false"/> for a store that cannot tell (a broker that does not say without handing the
    /// message over). Default <see langword="true"/>.
    /// </summary>
    public bool ReportsOldestReadyAge { get; init; } = true;

    /// <summary>
    /// A receive returns every ready message at once, up to its buffer. <see langword="false"/> for a store fed
    /// by a broker that pushes messages ahead asynchronously (an AMQP prefetch): such a receive still waits
    /// for a ready message and returns at least one, but may return fewer than are ready, because the others
    /// are still on their way from the broker. Default <see langword="true"/>.
    /// </summary>
    public bool ReceivesEveryReadyMessage { get; init; } = true;

    /// <summary>
    /// Leases, release delays and enqueue times follow the <see cref="TimeProvider"/> the kit passes to the
    /// store, so lease expiry and delays are tested on a fake clock. <see langword="false"/> for a store
    /// that reads a server's clock; those tests are then skipped. Default <see langword="true"/>.
    /// </summary>
    public bool FollowsTimeProvider { get; init; } = true;

    /// <summary>
    /// How late, past its due time, a delayed or expired message may still be invisible. Default zero.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan DelayPrecision
    {
        get => _delayPrecision;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero, nameof(DelayPrecision));
            _delayPrecision = value;
        }
    }

    /// <summary>
    /// How many priority levels the store serves strictly higher first when all are ready (priorities 0 to
    /// <c>PriorityLevels - 1</c>); 1 when it does not order by priority. Default 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above 256.</exception>
    public int PriorityLevels
    {
        get => _priorityLevels;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(PriorityLevels));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Message<int>.MaxPriority + 1, nameof(PriorityLevels));
            _priorityLevels = value;
        }
    }

    /// <summary>
    /// The most messages the store holds (ready, delayed and in flight) before a publish waits for room;
    /// <see langword="null"/> when unbounded. Default <see langword="null"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int? Capacity
    {
        get => _capacity;
        init
        {
            if (value is { } capacity)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1, nameof(Capacity));
            }

            _capacity = value;
        }
    }
}
