namespace MessagingPatterns.Diagnostics;

/// <summary>The attribute names and values of the OpenTelemetry messaging conventions, and our own under the library's prefix.</summary>
internal static class MessagingAttributes
{
    public const string System = "messaging.system";
    public const string DestinationName = "messaging.destination.name";
    public const string OperationName = "messaging.operation.name";
    public const string OperationType = "messaging.operation.type";
    public const string MessageId = "messaging.message.id";
    public const string ErrorType = "error.type";

    public const string Priority = MessagingMetrics.Prefix + "priority";
    public const string DeliveryCount = MessagingMetrics.Prefix + "delivery_count";

    // Operation types the conventions define.
    public const string Send = "send";
    public const string Receive = "receive";
    public const string Process = "process";
    public const string Settle = "settle";

    // Our settle operations' names.
    public const string Ack = "ack";
    public const string Release = "release";
    public const string DeadLetter = "dead_letter";

    /// <summary>The <c>error.type</c> of a settlement the store refused because the lease had ended.</summary>
    public const string LeaseLost = "lease_lost";

    /// <summary>The <c>error.type</c> of an exception: its full type name, as the conventions ask.</summary>
    public static string ErrorTypeOf(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;
}
