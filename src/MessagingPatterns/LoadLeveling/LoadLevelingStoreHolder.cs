namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Remembers the buffer a queue's decorator built, so it can be resolved as <see cref="ILoadLevelingStore{TMessage}"/>
/// even when other decorators wrap it.
/// </summary>
internal sealed class LoadLevelingStoreHolder<TMessage>
{
    public ILoadLevelingStore<TMessage>? Store { get; set; }
}
