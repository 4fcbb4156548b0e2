namespace MessagingPatterns;

/// <summary>Due times a timer accepts: at most about 49.7 days (uint.MaxValue - 1 milliseconds).</summary>
/// <remarks>A timer armed for a later time fires early, at this limit, and its owner arms it again.</remarks>
internal static class TimerDue
{
    /// <summary>The longest due time, in ticks.</summary>
    public static readonly long LongestTicks = TimeSpan.FromMilliseconds(uint.MaxValue - 1).Ticks;

    /// <summary>A due time of <paramref name="ticks"/>, cut to 0..<see cref="LongestTicks"/>.</summary>
    public static TimeSpan Clamp(long ticks) => TimeSpan.FromTicks(Math.Clamp(ticks, 0, LongestTicks));

    /// <summary>A due time of <paramref name="ticks"/> (possibly beyond what a long holds), cut to 0..<see cref="LongestTicks"/>.</summary>
    public static TimeSpan Clamp(double ticks) => TimeSpan.FromTicks((long)Math.Clamp(Math.Ceiling(ticks), 0, LongestTicks));
}
