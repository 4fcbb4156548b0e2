namespace MessagingPatterns.Sqlite;

/// <summary>One row of a dead-letter table.</summary>
internal readonly record struct DeadLetterRow(
    long Seq, string Id, int Priority, string? Headers, byte[] Body, string Reason, int DeliveryCount, long EnqueuedTicks, long DeadLetteredTicks);
