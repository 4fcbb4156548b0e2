using System.Threading.RateLimiting;
using MessagingPatterns.StoreAuthoring;

namespace MessagingPatterns.Pacing;

/// <summary>
/// The pacing decorator: consumers receive from the store it wraps at a steady rate, each message taking one permit
/// of a <see cref="RateLimiter"/>; everything else passes straight through. It owns and disposes the store.
/// </summary>
internal class PacedStore<TMessage> : IMessageStore<TMessage>
{
    private readonly IMessageStore<TMessage> _inner;
    private readonly RateLimiter? _ownedLimiter;
    private readonly PacedReceiver<TMessage> _receiver;
    private readonly CancellationTokenSource _disposing = new();
    private int _disposed;

    protected PacedStore(IMessageStore<TMessage> inner, PacingOptions options, TimeProvider timeProvider)
    {
        _inner = inner;
        RateLimiter limiter;
        if (options.RateLimiter is { } given)
        {
            limiter = given;
        }
        else
        {
            _ownedLimiter = new PacingRateLimiter(options.MessagesPerSecond!.Value, options.Burst, timeProvider);
            limiter = _ownedLimiter;
        }

        _receiver = new PacedReceiver<TMessage>(limiter, inner.Name, timeProvider);
    }

    public string Name => _inner.Name;

    /// <inheritdoc/>
    public string MessagingSystem => _inner.MessagingSystem;

    /// <summary>Validates the options and wraps <paramref name="inner"/>, keeping it recognisable as durable if it is.</summary>
    public static PacedStore<TMessage> Create(IMessageStore<TMessage> inner, PacingOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        OptionsCheck.ThrowIfInvalid(new PacingOptionsValidator(), inner.Name, options);
        return inner is IDurableMessageStore<TMessage>
            ? new DurablePacedStore<TMessage>(inner, options, timeProvider)
            : new PacedStore<TMessage>(inner, options, timeProvider);
    }

    public ValueTask EnqueueAsync(Message<TMessage> message, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.EnqueueAsync(message, cancellationToken);
    }

    public ValueTask EnqueueBatchAsync(IReadOnlyList<Message<TMessage>> messages, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.EnqueueBatchAsync(messages, cancellationToken);
    }

    public async ValueTask<int> ReceiveAsync(Memory<Delivery<TMessage>> buffer, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        StoreArguments.ThrowIfInvalidReceive(buffer, leaseDuration);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        try
        {
            return await _receiver.ReceiveAsync(_inner, buffer, leaseDuration, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(GetType().Name);
        }
    }

    public ValueTask<bool> AckAsync(LeaseToken lease, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.AckAsync(lease, cancellationToken);
    }

    public ValueTask<bool> ReleaseAsync(LeaseToken lease, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.ReleaseAsync(lease, delay, cancellationToken);
    }

    public ValueTask<bool> RenewLeaseAsync(LeaseToken lease, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.RenewLeaseAsync(lease, leaseDuration, cancellationToken);
    }

    public ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.DeadLetterAsync(lease, reason, cancellationToken);
    }

    public ValueTask<DeadLetterPage<TMessage>> BrowseDeadLettersAsync(DeadLetterFilter filter, int pageSize, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.BrowseDeadLettersAsync(filter, pageSize, continuationToken, cancellationToken);
    }

    public ValueTask<long> PurgeDeadLettersAsync(DeadLetterFilter filter, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.PurgeDeadLettersAsync(filter, cancellationToken);
    }

    public ValueTask<long> RedriveDeadLettersAsync(DeadLetterFilter filter, int batchSize = 100, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.RedriveDeadLettersAsync(filter, batchSize, cancellationToken);
    }

    public ValueTask<IReadOnlyList<DeadLetter<TMessage>>> GetDeadLettersAsync(int maxCount, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.GetDeadLettersAsync(maxCount, cancellationToken);
    }

    public ValueTask<int> RedriveAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.RedriveAsync(messageIds, cancellationToken);
    }

    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.GetStatisticsAsync(cancellationToken);
    }

    /// <summary>Disposes the decorator and its store; waiting receives fail with <see cref="ObjectDisposedException"/>. A user-supplied limiter is not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        if (_ownedLimiter is not null)
        {
            await _ownedLimiter.DisposeAsync().ConfigureAwait(false);
        }

        await _inner.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
}
