using System.ComponentModel.DataAnnotations;
using Polly;

namespace MessagingPatterns;

/// <summary>Options of a consumer worker pool. Validated when the pool is built (or at host start with DI).</summary>
public sealed class ConsumerOptions
{
    /// <summary>How many handlers run at once. Default: <see cref="Environment.ProcessorCount"/>.</summary>
    [Range(1, 10_000)]
    public int Concurrency { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// The most messages one worker leases per receive. 1 leases only the message it is about to handle;
    /// larger values save round trips to the store but hold messages other workers could take (and, for
    /// priority stores, let a later high-priority message wait behind them). Default: 1.
    /// </summary>
    [Range(1, 10_000)]
    public int PrefetchCount { get; set; } = 1;

    /// <summary>How long a received message stays invisible to other consumers unless renewed. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether leases are renewed while their messages are held, so a slow handler keeps its message.
    /// Default: <see langword="true"/>.
    /// </summary>
    public bool RenewLeases { get; set; } = true;

    /// <summary>
    /// How many deliveries a message gets before it is dead-lettered. The store counts a delivery when it
    /// grants the lease, so a message that crashes its process every time still ends up dead-lettered.
    /// Default: 5.
    /// </summary>
    [Range(1, 1_000)]
    public int MaxDeliveryAttempts { get; set; } = 5;

    /// <summary>How long a failed delivery waits before it is delivered again. Default: 1 second.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RedeliveryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest one handler attempt may run before its token is cancelled; the attempt then fails with a
    /// <see cref="TimeoutException"/> however the handler ends, even if it returns normally (it may have given up
    /// half way), and is retried like any failure, never acknowledged. Applies to every attempt, whatever the
    /// resilience pipeline; enforced within a quarter of the timeout (at most one second) after it passes.
    /// Default: 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long an attempt may go on past <see cref="HandlerTimeout"/>, its token cancelled, before the pool
    /// abandons it: its lease is no longer renewed, so the message comes back when the lease ends (counting a
    /// delivery), its late settle is refused as stale, and a new worker takes its place. Logged and counted
    /// (<c>messagingpatterns.handler.abandoned</c>). Default: 10 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan HandlerGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many times the default resilience pipeline retries a failed attempt within one delivery,
    /// with exponential backoff and jitter, before the delivery counts as failed. Default: 2.
    /// </summary>
    [Range(0, 100)]
    public int RetryCount { get; set; } = 2;

    /// <summary>The first backoff delay of the default pipeline's retries. Default: 100 milliseconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The resilience pipeline run around each delivery's handler call, replacing the default built from
    /// <see cref="RetryCount"/> and <see cref="RetryBaseDelay"/>.
    /// Use <see cref="ResiliencePipeline.Empty"/> for none. Default: <see langword="null"/>.
    /// </summary>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>
    /// Rewrites texts that may carry personal data or secrets (an exception's message often quotes the data it
    /// failed on) before the runtime stores or logs them: every dead-letter reason the runtime writes (a failed
    /// handler's exception message, or the reason a handler gave) and the message of every exception the runtime
    /// logs, inner exceptions included. Logged exceptions keep their type name and stack trace. A hook that throws
    /// hides the whole text. Default: <see langword="null"/>, texts as they are.
    /// </summary>
    /// <example><c>options.Redact = text => EmailPattern().Replace(text, "[email]");</c></example>
    public Func<string, string>? Redact { get; set; }

    /// <summary>
    /// How long a shutdown waits for running handlers before cancelling their tokens. A stop then waits at most
    /// <see cref="CancelledHandlerWait"/> more for the cancelled handlers, which
    /// release what they did not finish; a handler still running after that keeps its message until its lease
    /// ends. Default: 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a stop waits for running handlers after cancelling their tokens at the end of
    /// <see cref="ShutdownTimeout"/>, so every stop and dispose ends within the two: 1 second.
    /// </summary>
    public static TimeSpan CancelledHandlerWait { get; } = TimeSpan.FromSeconds(1);
}
