namespace MessagingPatterns.LoadLeveling.FullModes;

/// <summary>What <see cref="DropOldestFullMode{TMessage}"/> needs from its buffer: removing a dropped message, with its room.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal interface IDroppedMessageRemover<TMessage>
{
    /// <summary>Acknowledges the leased message in the queue's store and, if that removed it, gives back its room.</summary>
    ValueTask RemoveDroppedAsync(Delivery<TMessage> delivery);
}
