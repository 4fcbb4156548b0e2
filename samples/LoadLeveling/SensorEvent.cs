using MessagingPatterns;

/// <summary>The message: one reading. A malformed one cannot be processed and is dead-lettered.</summary>
public sealed record SensorEvent(int Number, bool Malformed);

/// <summary>The handler: a couple of milliseconds of work per event, the kind of call a paced consumer protects.</summary>
public sealed class SensorEventConsumer(Ledger ledger) : IConsumer<SensorEvent>
{
    public async Task ConsumeAsync(MessageContext<SensorEvent> context, CancellationToken cancellationToken)
    {
        if (context.Body.Malformed)
        {
            // No retry can fix bad input: dead-letter it now, with the reason.
            context.DeadLetter("malformed reading");
            ledger.RecordDeadLettered();
            return;
        }

        await Task.Delay(TimeSpan.FromMilliseconds(2), cancellationToken);
        ledger.RecordHandled(context.MessageId);
    }
}
