using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace MessagingPatterns;

/// <summary>
/// Options of the pacing decorator: the steady rate at which consumers may receive messages. Validated when the
/// decorator is built (or at host start with DI).
/// </summary>
public sealed class PacingOptions
{
    /// <summary>
    /// The steady rate in messages per second, held on an absolute timeline: a late timer never lowers it. Positive and
    /// finite; required unless <see cref="RateLimiter"/> is set. Default: <see langword="null"/>.
    /// </summary>
    public double? MessagesPerSecond { get; set; }

    /// <summary>
    /// With <see cref="MessagesPerSecond"/>, how many messages consumers may start at once after a quiet spell. 1 spaces
    /// messages evenly. 1 to <see cref="int.MaxValue"/>. Default: 1.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int Burst { get; set; } = 1;

    /// <summary>
    /// A limiter to pace consumers with instead of <see cref="MessagesPerSecond"/>: each received message takes one
    /// permit. The decorator does not dispose it. Set either this or <see cref="MessagesPerSecond"/>, not both.
    /// Default: <see langword="null"/>.
    /// </summary>
    public RateLimiter? RateLimiter { get; set; }
}
