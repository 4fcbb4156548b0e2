namespace MessagingPatterns.PostgreSql;

/// <summary>A message as the store writes it: serialized body and headers, ready for the INSERT.</summary>
internal readonly record struct PendingRow(string Id, short Priority, string? Headers, byte[] Body);
