namespace MessagingPatterns;

/// <summary>One page of dead letters, oldest dead-lettered first.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <param name="Items">The dead letters of this page; may be fewer than asked for even when more follow.</param>
/// <param name="ContinuationToken">
/// Pass it to <see cref="IMessageStore{TMessage}.BrowseDeadLettersAsync"/> for the next page;
/// <see langword="null"/> when there are no more. It stays valid while entries are purged or redriven:
/// the next page starts after the last entry of this one.
/// </param>
public sealed record DeadLetterPage<TMessage>(IReadOnlyList<DeadLetter<TMessage>> Items, string? ContinuationToken);
