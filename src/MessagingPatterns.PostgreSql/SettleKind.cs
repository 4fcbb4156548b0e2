namespace MessagingPatterns.PostgreSql;

/// <summary>What a settle does to a leased row; each kind is one batched statement of <see cref="QueueSql"/>.</summary>
internal enum SettleKind
{
    Ack,
    Release,
    Renew,
    DeadLetter,
}
