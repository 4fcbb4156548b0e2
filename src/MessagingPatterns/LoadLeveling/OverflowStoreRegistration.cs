namespace MessagingPatterns.LoadLeveling;

/// <summary>The overflow store a queue's load-leveling buffer builds (registered per queue by <c>WithOverflow</c>).</summary>
internal sealed class OverflowStoreRegistration<TMessage>(Func<IServiceProvider, IMessageStore<TMessage>> create)
{
    public Func<IServiceProvider, IMessageStore<TMessage>> Create { get; } = create;
}
