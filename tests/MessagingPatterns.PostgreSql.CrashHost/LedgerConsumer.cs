namespace MessagingPatterns.PostgreSql.CrashHost;

/// <summary>Records each handling (id and delivery count) before returning, which lets the runtime ack it.</summary>
internal sealed class LedgerConsumer(Ledger ledger) : IConsumer<CrashMessage>
{
    public Task ConsumeAsync(MessageContext<CrashMessage> context, CancellationToken cancellationToken)
    {
        ledger.Handled(context.MessageId, context.DeliveryCount);
        return Task.CompletedTask;
    }
}
