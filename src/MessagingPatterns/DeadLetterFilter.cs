namespace MessagingPatterns;

/// <summary>
/// Selects dead letters to browse, purge or redrive. Every criterion set must hold; an empty filter
/// (<see cref="All"/>) selects every dead letter.
/// </summary>
/// <remarks>
/// Store authors: apply every property; <see cref="Matches{TMessage}(DeadLetter{TMessage})"/> is the
/// reference meaning, which a store that filters in a query must agree with.
/// </remarks>
public sealed record DeadLetterFilter
{
    /// <summary>The filter that selects every dead letter.</summary>
    public static DeadLetterFilter All { get; } = new();

    private readonly HashSet<string>? _messageIds;

    /// <summary>Only these message ids (compared ordinally); <see langword="null"/> for any id. Duplicates are ignored.</summary>
    public IReadOnlyCollection<string>? MessageIds
    {
        get => _messageIds;
        init => _messageIds = value is null ? null : new HashSet<string>(value.Where(id => id is not null), StringComparer.Ordinal);
    }

    /// <summary>Only reasons containing this text (ordinal, case-sensitive); <see langword="null"/> for any reason.</summary>
    public string? ReasonContains { get; init; }

    /// <summary>Only messages enqueued at or after this time; <see langword="null"/> for no lower bound.</summary>
    public DateTimeOffset? EnqueuedFrom { get; init; }

    /// <summary>Only messages enqueued before this time; <see langword="null"/> for no upper bound.</summary>
    public DateTimeOffset? EnqueuedBefore { get; init; }

    /// <summary>Only messages dead-lettered at or after this time; <see langword="null"/> for no lower bound.</summary>
    public DateTimeOffset? DeadLetteredFrom { get; init; }

    /// <summary>Only messages dead-lettered before this time; <see langword="null"/> for no upper bound.</summary>
    public DateTimeOffset? DeadLetteredBefore { get; init; }

    /// <summary>Only messages of this priority; <see langword="null"/> for any priority.</summary>
    public int? Priority { get; init; }

    /// <summary>Whether <paramref name="deadLetter"/> meets every criterion of this filter.</summary>
    /// <typeparam name="TMessage">The body type.</typeparam>
    /// <param name="deadLetter">The dead letter.</param>
    /// <returns><see langword="true"/> if it is selected.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="deadLetter"/> is <see langword="null"/>.</exception>
    public bool Matches<TMessage>(DeadLetter<TMessage> deadLetter)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        return (_messageIds is null || _messageIds.Contains(deadLetter.MessageId)) &&
            (ReasonContains is null || deadLetter.Reason.Contains(ReasonContains, StringComparison.Ordinal)) &&
            (EnqueuedFrom is not { } enqueuedFrom || deadLetter.EnqueuedAt >= enqueuedFrom) &&
            (EnqueuedBefore is not { } enqueuedBefore || deadLetter.EnqueuedAt < enqueuedBefore) &&
            (DeadLetteredFrom is not { } from || deadLetter.DeadLetteredAt >= from) &&
            (DeadLetteredBefore is not { } before || deadLetter.DeadLetteredAt < before) &&
            (Priority is not { } priority || deadLetter.Priority == priority);
    }
}
