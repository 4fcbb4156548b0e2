using System.Diagnostics.Metrics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// The library's instruments on one meter named <see cref="MessagingMetrics.Name"/>: under DI the
/// meter comes from the container's <see cref="IMeterFactory"/>, otherwise one process-wide meter serves all.
/// </summary>
internal sealed class MessagingInstruments
{
    // The bucket boundaries the conventions recommend for messaging durations, in seconds. Without advice an exporter
    // uses its default buckets, made for milliseconds: every duration under 5 s would fall in one bucket.
    private static readonly InstrumentAdvice<double> s_durationAdvice = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    /// <summary>
    /// Bucket boundaries, in seconds, for how long messages wait in a queue: from a millisecond (latency targets are
    /// tens of milliseconds) to minutes (a backlog under a spike).
    /// </summary>
    internal static InstrumentAdvice<double> WaitAdvice { get; } = new()
    {
        HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120, 300, 600],
    };

    private MessagingInstruments(Meter meter)
    {
        Sent = meter.CreateCounter<long>(
            "messaging.client.sent.messages", "{message}", "Messages a producer attempted to publish; failed attempts carry error.type.");
        Consumed = meter.CreateCounter<long>(
            "messaging.client.consumed.messages", "{message}", "Messages delivered to the application's handler, once per delivery (a redelivery counts again; a prefetched message released or handed back unstarted does not).");
        OperationDuration = meter.CreateHistogram(
            "messaging.client.operation.duration", "s", "Duration of a publish (send) or a settlement (ack, release, dead_letter).", advice: s_durationAdvice);
        ProcessDuration = meter.CreateHistogram(
            "messaging.process.duration", "s", "Duration of handling one delivery, retries within the delivery included; failed ones carry error.type.", advice: s_durationAdvice);
        DeadLettered = meter.CreateCounter<long>(
            MessagingMetrics.Prefix + "dead_lettered", "{message}", "Messages the consumer runtime moved to a dead-letter store.");
        LeaseLost = meter.CreateCounter<long>(
            MessagingMetrics.Prefix + "lease_lost", "{delivery}", "Settlements refused because the lease had ended.");
        HandlerAbandoned = meter.CreateCounter<long>(
            MessagingMetrics.Prefix + "handler.abandoned", "{attempt}", "Handler attempts given up on after running past their timeout and grace period; their messages come back when their leases end.");
        Latency = meter.CreateHistogram(
            MessagingMetrics.Prefix + "latency", "s", "Time from acceptance to the end of handling, whatever the outcome.", advice: WaitAdvice);
        Priority = new PriorityMetrics(meter);
        LoadLeveling = new LoadLevelingMetrics(meter);
    }

    /// <summary>The instruments on the process-wide meter, for producers and pools built without DI.</summary>
    public static MessagingInstruments Shared { get; } = new(new Meter(MessagingMetrics.Name));

    public Counter<long> Sent { get; }

    public Counter<long> Consumed { get; }

    public Histogram<double> OperationDuration { get; }

    public Histogram<double> ProcessDuration { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> LeaseLost { get; }

    public Counter<long> HandlerAbandoned { get; }

    public Histogram<double> Latency { get; }

    /// <summary>The priority stores' instruments.</summary>
    public PriorityMetrics Priority { get; }

    /// <summary>The load-leveling buffers' instruments.</summary>
    public LoadLevelingMetrics LoadLeveling { get; }

    /// <summary>The instruments on <paramref name="factory"/>'s meter, or <see cref="Shared"/> without a factory.</summary>
    public static MessagingInstruments From(IMeterFactory? factory) =>
        factory is null ? Shared : new MessagingInstruments(factory.Create(MessagingMetrics.Name));
}
