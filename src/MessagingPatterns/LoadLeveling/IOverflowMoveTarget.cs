namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// What an <see cref="OverflowMover{TMessage}"/> needs from the buffer it moves into: room to take, given back when a
/// move fails, and the counts a move changes.
/// </summary>
/// <typeparam name="TMessage">The message body type.</typeparam>
internal interface IOverflowMoveTarget<TMessage>
{
    /// <summary>Gets the queue's name, for logs and metrics.</summary>
    string Name { get; }

    /// <summary>How many messages may move now: the room left in the buffer, at most what the overflow store holds.</summary>
    long RoomForMoves();

    /// <summary>Takes room for one message of <paramref name="size"/> bytes; false if the buffer is full.</summary>
    bool TryReserveMove(long size);

    /// <summary>Gives back room taken by <see cref="TryReserveMove"/> for a move that stored nothing.</summary>
    void UnreserveMove(long size);

    /// <summary>The size a message counts for against the byte bound (0 without one).</summary>
    long SizeOf(Message<TMessage> message);

    /// <summary>Counts a message moved into the queue's store.</summary>
    void Moved();

    /// <summary>Counts a message removed from the overflow store (acknowledged after its move, or dead-lettered there).</summary>
    void RemovedFromOverflow();
}
