namespace MessagingPatterns.PostgreSql;

/// <summary>A publish of one or more messages, inserted with the rest of its transaction's publishes.</summary>
internal sealed class EnqueueOperation(PendingRow[] rows) : WriteOperation<bool>
{
    public PendingRow[] Rows { get; } = rows;
}
