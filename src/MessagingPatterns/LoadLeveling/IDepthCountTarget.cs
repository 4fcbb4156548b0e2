namespace MessagingPatterns.LoadLeveling;

/// <summary>What a <see cref="DurableDepthCounter{TMessage}"/> needs from the buffer whose depth it corrects.</summary>
internal interface IDepthCountTarget
{
    /// <summary>Gets whether a count is worth its cost now (the buffer is near its bound, or someone waits on it).</summary>
    bool CountDue { get; }

    /// <summary>Gets the messages acknowledged, dead-lettered or dropped through the buffer so far.</summary>
    long Released { get; }

    /// <summary>
    /// Takes a count: the store holds <paramref name="heldMinusStored"/> plus <see cref="Released"/> (read now)
    /// messages more than the buffer's own counters say; room this frees is handed on as a settle's would be.
    /// </summary>
    void Recounted(long heldMinusStored);

    /// <summary>Called once, when the first count has answered or failed.</summary>
    void FirstCountDone();
}
