using System.Diagnostics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The names under which the library reports telemetry: one <see cref="System.Diagnostics.Metrics.Meter"/> and one
/// <see cref="System.Diagnostics.ActivitySource"/>, both named <see cref="Name"/>, so OpenTelemetry (or any listener)
/// sees them without the library depending on it.
/// </summary>
/// <remarks>
/// Instruments and spans follow the OpenTelemetry messaging semantic conventions (<c>messaging.client.sent.messages</c>,
/// <c>messaging.client.consumed.messages</c>, <c>messaging.client.operation.duration</c>, <c>messaging.process.duration</c>,
/// <c>send {queue}</c> and <c>process {queue}</c> spans). What the conventions lack is reported under <see cref="Prefix"/>.
/// </remarks>
public static class MessagingMetrics
{
    /// <summary>The name of the meter and the activity source: <c>MessagingPatterns</c>.</summary>
    public const string Name = "MessagingPatterns";

    /// <summary>
    /// The prefix of the instruments and attributes the conventions do not define (priority levels, load-leveling
    /// depth and rates, drops, dead letters, lost leases): <c>messagingpatterns.</c>.
    /// </summary>
    public const string Prefix = "messagingpatterns.";

    /// <summary>
    /// The activity source of the library's spans: a <c>send {queue}</c> producer span per publish and a
    /// <c>process {queue}</c> consumer span per handled delivery, continuing the publisher's trace.
    /// </summary>
    public static ActivitySource ActivitySource { get; } = new(Name);
}
