namespace MessagingPatterns;

/// <summary>How a handler settled a message through its context.</summary>
internal enum Settlement
{
    /// <summary>Returned normally: acknowledge.</summary>
    Ack,

    /// <summary>Asked for another delivery after a delay.</summary>
    Retry,

    /// <summary>Asked to be dead-lettered now.</summary>
    DeadLetter,
}
