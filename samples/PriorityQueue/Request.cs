using MessagingPatterns;

/// <summary>The service class a customer pays for; its value is the message priority (higher is more urgent).</summary>
public enum ServiceClass
{
    Free = 0,
    Standard = 1,
    Premium = 2,
}

/// <summary>The message: one request. A malformed one cannot be served and is dead-lettered.</summary>
public sealed record Request(int Number, bool Malformed);

/// <summary>The fixed capacity every scheduler competes for: a few workers, each request taking about 2 ms.</summary>
public static class Service
{
    public const int Workers = 6;

    public static readonly TimeSpan HandlerTime = TimeSpan.FromMilliseconds(2);
}

/// <summary>The handler: serves a request in <see cref="Service.HandlerTime"/> and records how long it waited.</summary>
public sealed class RequestConsumer(RunLedger ledger, TimeProvider time) : IConsumer<Request>
{
    public async Task ConsumeAsync(MessageContext<Request> context, CancellationToken cancellationToken)
    {
        if (context.Body.Malformed)
        {
            // No retry can fix bad input: dead-letter it now, with the reason, instead of spending attempts on it.
            context.DeadLetter("malformed request");
            ledger.RecordDeadLettered();
            return;
        }

        await Task.Delay(Service.HandlerTime, cancellationToken);

        // EnqueuedAt is stamped by the store when it accepts the message, so this is the whole wait plus service time.
        ledger.RecordHandled(context.MessageId, (ServiceClass)context.Priority, time.GetUtcNow() - context.EnqueuedAt);
    }
}
