namespace MessagingPatterns;

/// <summary>Headers a load-leveling buffer adds to the messages it handles.</summary>
public static class LoadLevelingHeaders
{
    /// <summary>
    /// Set (to <c>true</c>) on a message moved from the overflow store into the queue's store. The message keeps its
    /// original id. A process that crashes after the move and before the overflow store's acknowledgement leaves a
    /// copy in both stores, so after a crash the same id may be delivered twice: a consumer that must not handle a
    /// message twice deduplicates by id the messages that carry this header.
    /// </summary>
    public const string MovedFromOverflow = "messaging-moved-from-overflow";
}
