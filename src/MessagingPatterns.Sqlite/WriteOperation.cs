namespace MessagingPatterns.Sqlite;

/// <summary>
/// One unit of work for the <see cref="GroupCommitWriter"/>. It runs inside a transaction shared with
/// other callers' operations and is completed only after that transaction commits, so a caller never
/// hears "done" for something a crash could still undo.
/// </summary>
internal abstract class WriteOperation
{
    private const int Pending = 0;
    private const int Started = 1;
    private const int Cancelled = 2;

    private int _state;

    /// <summary>When the caller submitted it (<see cref="System.Diagnostics.Stopwatch"/> ticks): its wait for the write lock counts from here.</summary>
    public long SubmittedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>Claims the operation for execution; false if its caller cancelled it first.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref _state, Started, Pending) == Pending;

    /// <summary>Withdraws an operation that has not started; false once the writer has taken it.</summary>
    public bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Pending) == Pending;

    /// <summary>
    /// Does the work inside the open transaction. May run again (alone) if another operation of the same
    /// transaction failed, so it must reset any result it records.
    /// </summary>
    public abstract void Execute();

    /// <summary>Reports success, after the commit.</summary>
    public abstract void Complete();

    /// <summary>Reports failure; nothing this operation did was committed.</summary>
    public abstract void Fail(Exception exception);

    /// <summary>Reports cancellation before the operation started.</summary>
    public abstract void Cancel(CancellationToken cancellationToken);
}

/// <summary>An operation with a result, completed through a task.</summary>
/// <typeparam name="TResult">The result type.</typeparam>
internal abstract class WriteOperation<TResult> : WriteOperation
{
    // Continuations run asynchronously so callers never run on the writer's thread and delay the next commit.
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the operation has committed, failed or been cancelled.</summary>
    public Task<TResult> Task => _completion.Task;

    /// <summary>The result recorded by <see cref="WriteOperation.Execute"/>.</summary>
    protected TResult Result { get; set; } = default!;

    /// <inheritdoc/>
    public override void Complete()
    {
        OnCommitted();
        _completion.TrySetResult(Result);
    }

    /// <inheritdoc/>
    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    /// <inheritdoc/>
    public override void Cancel(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);

    /// <summary>Runs after the commit, before the caller is released (e.g. to wake receivers).</summary>
    protected virtual void OnCommitted()
    {
    }
}
