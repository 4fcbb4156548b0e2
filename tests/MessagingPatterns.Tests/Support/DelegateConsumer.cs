namespace MessagingPatterns.Tests.Support;

/// <summary>A consumer whose behaviour each test supplies.</summary>
public sealed class DelegateConsumer<TMessage>(Func<MessageContext<TMessage>, CancellationToken, Task> handle) : IConsumer<TMessage>
{
    public Task ConsumeAsync(MessageContext<TMessage> context, CancellationToken cancellationToken) => handle(context, cancellationToken);
}
