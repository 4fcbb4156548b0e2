namespace MessagingPatterns.PostgreSql;

/// <summary>A publish of one or more messages, inserted with the rest of its transaction's publishes.</summary>
internal sealed class EnqueueOperation(PendingRow[] rows) : WriteOperation<bool>
{
    public PendingRow[] Rows { get; } = rows;

    /// <summary>An upper bound of the bytes the rows take on the wire, for the writer's budget per transaction.</summary>
    public long Bytes { get; } = rows.Sum(row => row.Bytes);
}
