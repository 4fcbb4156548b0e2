namespace MessagingPatterns.PostgreSql;

/// <summary>An ack, release, renewal or dead-letter of one lease; the result says whether the lease was still held.</summary>
/// <param name="kind">What to do.</param>
/// <param name="seq">The row.</param>
/// <param name="token">The lease's token.</param>
/// <param name="span">The release delay or the renewed lease's length.</param>
/// <param name="reason">The dead-letter reason.</param>
internal sealed class SettleOperation(SettleKind kind, long seq, long token, TimeSpan span, string? reason) : WriteOperation<bool>
{
    public SettleKind Kind { get; } = kind;

    public long Seq { get; } = seq;

    public long Token { get; } = token;

    public TimeSpan Span { get; } = span;

    public string? Reason { get; } = reason;
}
