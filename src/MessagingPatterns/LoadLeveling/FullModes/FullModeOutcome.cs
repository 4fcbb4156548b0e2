namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>What became of a publish a <see cref="FullModePolicy{TMessage}"/> handled.</summary>
internal enum FullModeOutcome
{
    /// <summary>Room was reserved for it: the buffer enqueues it now.</summary>
    Reserved,

    /// <summary>It was dealt with (stored elsewhere, or dropped and reported): the publish completes.</summary>
    Done,

    /// <summary>Room may have been made: the buffer tries again from the start.</summary>
    TryAgain,
}
