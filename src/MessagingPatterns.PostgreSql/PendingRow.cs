namespace MessagingPatterns.PostgreSql;

/// <summary>A message as the store writes it: serialized body and headers, ready for the INSERT.</summary>
internal readonly record struct PendingRow(string Id, short Priority, string? Headers, byte[] Body)
{
    /// <summary>An upper bound of the bytes the row takes on the wire (UTF-8 takes at most 3 bytes per UTF-16 char).</summary>
    public long Bytes => Body.Length + (3L * (Id.Length + (Headers?.Length ?? 0))) + 64;
}
