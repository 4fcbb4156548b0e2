namespace MessagingPatterns.DependencyInjection;

/// <summary>
/// A borrowed store that can hand back unstarted messages, as the store it borrows can: without it, registering a
/// priority store the caller owns would turn off the consumers' protection against priority inversion.
/// </summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class PreemptibleBorrowedStore<TMessage>(IPreemptibleStore<TMessage> inner) : BorrowedStore<TMessage>(inner), IPreemptibleStore<TMessage>
{
    public ValueTask<bool> HasReadyAheadOfAsync(Message<TMessage> held, CancellationToken cancellationToken = default) =>
        inner.HasReadyAheadOfAsync(held, cancellationToken);

    public ValueTask<int> HandBackAsync(IReadOnlyList<LeaseToken> leases, CancellationToken cancellationToken = default) =>
        inner.HandBackAsync(leases, cancellationToken);
}
