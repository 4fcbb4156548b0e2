namespace MessagingPatterns;

/// <summary>Handles messages: the application's code, run by the consumer runtime.</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
/// <remarks>
/// Returning acknowledges the message (unless the handler settled it otherwise through
/// <see cref="MessageContext{TMessage}"/>); throwing fails this attempt, which is retried and, after the
/// last attempt, dead-lettered with the exception's type and message. The runtime resolves one instance
/// per message from its own DI scope.
/// </remarks>
public interface IConsumer<TMessage>
{
    /// <summary>Handles one message.</summary>
    /// <param name="context">The message and its delivery details; valid only until this call completes.</param>
    /// <param name="cancellationToken">Cancelled on the attempt's timeout or at the end of a shutdown's drain period.</param>
    /// <returns>A task that completes when the message is handled.</returns>
    Task ConsumeAsync(MessageContext<TMessage> context, CancellationToken cancellationToken);
}
