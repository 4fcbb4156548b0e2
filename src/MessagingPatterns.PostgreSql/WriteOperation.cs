namespace MessagingPatterns.PostgreSql;

/// <summary>
/// One publish or settle for the <see cref="GroupCommitWriter"/>. It runs in a transaction shared with other
/// callers' operations and is completed only after that transaction commits.
/// </summary>
internal abstract class WriteOperation
{
    private const int Pending = 0;
    private const int Started = 1;
    private const int Cancelled = 2;

    private int _state;

    /// <summary>Claims the operation for execution; false if its caller cancelled it first.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref _state, Started, Pending) == Pending;

    /// <summary>Withdraws an operation that has not started; false once the writer has taken it.</summary>
    public bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Pending) == Pending;

    /// <summary>Reports success, after the commit.</summary>
    public abstract void Complete();

    /// <summary>Reports failure: nothing was committed, or (for a broken connection) the outcome is unknown.</summary>
    public abstract void Fail(Exception exception);

    /// <summary>Reports cancellation before the operation started.</summary>
    public abstract void Cancel(CancellationToken cancellationToken);
}

/// <summary>An operation with a result, completed through a task.</summary>
/// <typeparam name="TResult">The result type.</typeparam>
internal abstract class WriteOperation<TResult> : WriteOperation
{
    // Asynchronous continuations: callers never run on the writer's loop and delay the next transaction.
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the operation has committed, failed or been cancelled.</summary>
    public Task<TResult> Task => _completion.Task;

    /// <summary>The result the writer recorded; reset before each run.</summary>
    public TResult Result { get; set; } = default!;

    /// <inheritdoc/>
    public override void Complete() => _completion.TrySetResult(Result);

    /// <inheritdoc/>
    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    /// <inheritdoc/>
    public override void Cancel(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}
