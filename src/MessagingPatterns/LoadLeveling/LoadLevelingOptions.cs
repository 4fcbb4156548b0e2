using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using MessagingPatterns.LoadLeveling;

namespace MessagingPatterns;

/// <summary>
/// Options of a load-leveling buffer: how much it holds, what a publish to a full buffer does, and how fast
/// consumers may take messages out. Validated when the buffer is built (or at host start with DI).
/// </summary>
public sealed class LoadLevelingOptions
{
    /// <summary>
    /// The most messages the buffer holds: accepted and not yet acknowledged or dead-lettered (ready, delayed and in
    /// flight). 1 to <see cref="int.MaxValue"/>. Default: 10,000.
    /// </summary>
    /// <remarks>
    /// Over a durable store (<see cref="IDurableMessageStore{TMessage}"/>) this bounds what the store holds, including
    /// messages left from an earlier run and those other processes publish: the buffer counts the store at start, then
    /// every second while it is at least half full, so other processes' publishes and acks are seen within about a
    /// second.
    /// </remarks>
    [Range(1, int.MaxValue)]
    public int Capacity { get; set; } = LoadLevelingDefaults.Capacity;

    /// <summary>
    /// The most bytes the buffer holds, as measured by <see cref="MessageSize"/> (which is then required); a message
    /// larger than this can never be accepted. At least 1, or <see langword="null"/> for no byte bound. Default: <see langword="null"/>.
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long? CapacityBytes { get; set; }

    /// <summary>
    /// Estimates a message's size in bytes from its body, for <see cref="CapacityBytes"/>. It must return the same
    /// value for the same body, at least 0. Default: <see langword="null"/>.
    /// </summary>
    public Func<object, long>? MessageSize { get; set; }

    /// <summary>What a publish to a full buffer does. Default: <see cref="FullMode.Wait"/>.</summary>
    public FullMode FullMode { get; set; } = FullMode.Wait;

    /// <summary>
    /// With <see cref="FullMode.Wait"/>, the longest a publish waits for room before it fails with a
    /// <see cref="QueueFullException"/>; positive, or <see langword="null"/> to wait as long as the caller's token allows.
    /// Default: <see langword="null"/>.
    /// </summary>
    public TimeSpan? PublishTimeout { get; set; }

    /// <summary>
    /// The steady rate at which consumers may receive messages, in messages per second: a shortcut for the pacing
    /// decorator (<c>MessageStore.WithPacing</c>), which the buffer then receives through, driven by the buffer's
    /// <see cref="TimeProvider"/>. Positive and finite, or <see langword="null"/> for no pacing (unless
    /// <see cref="RateLimiter"/> is set). Default: <see langword="null"/>.
    /// </summary>
    public double? MessagesPerSecond { get; set; }

    /// <summary>
    /// With <see cref="MessagesPerSecond"/>, how many messages consumers may take at once after a quiet spell (the
    /// token bucket's size). 1 spaces messages evenly. 1 to <see cref="int.MaxValue"/>. Default: 1.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int Burst { get; set; } = 1;

    /// <summary>
    /// A limiter to pace consumers with instead of the default token bucket: each received message takes one permit.
    /// The buffer does not dispose it. Set either this or <see cref="MessagesPerSecond"/>, not both.
    /// Default: <see langword="null"/>.
    /// </summary>
    public RateLimiter? RateLimiter { get; set; }

    /// <summary>
    /// Called for every message a drop <see cref="FullMode"/> drops, before it is gone; required with those modes, so
    /// no message disappears unreported. Each is a <see cref="DroppedMessage{TMessage}"/> of the queue's body type (set
    /// it with <see cref="OnDroppedMessage{TMessage}"/> to receive that type). It runs on the publishing thread and
    /// should be quick. If it throws, the message is not dropped and the publish fails with the exception.
    /// Default: <see langword="null"/>.
    /// </summary>
    public Action<DroppedMessage>? OnDropped { get; set; }

    /// <summary>The body type <see cref="OnDroppedMessage{TMessage}"/> was set for, checked against the queue's when the buffer is built.</summary>
    internal Type? DroppedBodyType { get; private set; }

    /// <summary>
    /// Sets <see cref="OnDropped"/> to a callback that receives each dropped message with its typed body.
    /// </summary>
    /// <typeparam name="TMessage">The queue's body type; a buffer of another type refuses to start.</typeparam>
    /// <param name="onDropped">The callback.</param>
    /// <returns>These options.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    public LoadLevelingOptions OnDroppedMessage<TMessage>(Action<DroppedMessage<TMessage>> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        OnDropped = dropped => onDropped((DroppedMessage<TMessage>)dropped);
        DroppedBodyType = typeof(TMessage);
        return this;
    }

    /// <summary>
    /// Refuses configurations that can lose accepted messages: a drop <see cref="FullMode"/>, or a store (or overflow
    /// store) that is not an <see cref="IDurableMessageStore{TMessage}"/> and so loses its messages with the process.
    /// With DI the host refuses to start; without, building the buffer throws. Default: <see langword="false"/>.
    /// </summary>
    public bool RequireNoDataLoss { get; set; }

    /// <summary>
    /// Rewrites texts that may carry personal data or secrets before the buffer stores or logs them: the dead-letter
    /// reason the overflow mover writes for a message the queue's store will not take back (it quotes the store's
    /// exception), and the message of every exception the buffer logs, inner exceptions included. Logged exceptions
    /// keep their type name and stack trace. A hook that throws hides the whole text. Set it to the same hook as
    /// <see cref="ConsumerOptions.Redact"/> and the store's own option. Default: <see langword="null"/>, texts as they are.
    /// </summary>
    /// <example><c>options.Redact = text => EmailPattern().Replace(text, "[email]");</c></example>
    public Func<string, string>? Redact { get; set; }

    /// <summary>The pacing these options ask for, as the pacing decorator's options; <see langword="null"/> for none.</summary>
    internal PacingOptions? ToPacingOptions() => MessagesPerSecond is null && RateLimiter is null
        ? null
        : new PacingOptions { MessagesPerSecond = MessagesPerSecond, Burst = Burst, RateLimiter = RateLimiter };
}
