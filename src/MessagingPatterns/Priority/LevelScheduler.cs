using MessagingPatterns.Priority;

namespace MessagingPatterns;

/// <summary>
/// How a priority store picks the level the next received messages come from: strict, weighted, deadline or
/// aging, or one of your own. Derive from it to write a scheduler (fair share by tenant, tokens, ...) and pass it
/// as <see cref="MultiQueueOptions.Scheduler"/>; the library's own are the static members.
/// </summary>
/// <remarks>
/// A store calls <see cref="SelectLevel"/> under its lock, once per run of messages rather than per message, so a
/// scheduler must be quick and must not block. It calls <see cref="ForStore"/> once when it is made, so one
/// scheduler object may configure several stores while each store gets its own state.
/// </remarks>
public abstract class LevelScheduler
{
    /// <summary>Always the highest ready level: lower levels wait while higher ones have messages.</summary>
    public static LevelScheduler Strict => StrictScheduler.Instance;

    /// <summary>
    /// Smooth weighted round-robin over the ready levels: with every level backlogged, each gets its weight's share
    /// of the receives; an idle level's share goes to the others, so none starves.
    /// </summary>
    /// <param name="weightsFromHighest">One positive weight per level, <b>from the highest level down</b>: <c>Weighted(70, 20, 10)</c> gives the top level 70%.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="weightsFromHighest"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">It is empty or a weight is not positive.</exception>
    public static LevelScheduler Weighted(params int[] weightsFromHighest)
    {
        ArgumentNullException.ThrowIfNull(weightsFromHighest);
        if (weightsFromHighest.Length == 0 || weightsFromHighest.Any(w => w <= 0))
        {
            throw new ArgumentException("Give one weight greater than 0 per level, from the highest level down.", nameof(weightsFromHighest));
        }

        return new WeightedScheduler([.. weightsFromHighest.Reverse()]);
    }

    /// <summary>
    /// Earliest deadline first by latency target (enqueue to start): the level whose oldest message is nearest its
    /// target is served; under overload the highest levels keep their targets and the lowest degrade first.
    /// </summary>
    /// <param name="targetsFromHighest">One positive target per level, <b>from the highest level down</b>, e.g. 50 ms, 500 ms, 5 s.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="targetsFromHighest"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">It is empty or a target is not positive.</exception>
    public static LevelScheduler Deadline(params TimeSpan[] targetsFromHighest)
    {
        ArgumentNullException.ThrowIfNull(targetsFromHighest);
        if (targetsFromHighest.Length == 0 || targetsFromHighest.Any(t => t <= TimeSpan.Zero))
        {
            throw new ArgumentException("Give one latency target greater than zero per level, from the highest level down.", nameof(targetsFromHighest));
        }

        return new DeadlineScheduler([.. targetsFromHighest.Reverse().Select(t => t.Ticks)]);
    }

    /// <summary>
    /// Highest level first, with aging: a message's effective priority rises with its wait, reaching the top level's
    /// at <paramref name="maxWait"/>, so a flood of urgent messages never starves the lower levels for longer.
    /// </summary>
    /// <param name="maxWait">The wait after which a message ranks with the top level's (in arrival order).</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxWait"/> is not positive.</exception>
    public static LevelScheduler Aging(TimeSpan maxWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxWait, TimeSpan.Zero);
        return new AgingScheduler(maxWait.Ticks, 0);
    }

    /// <summary>
    /// Checks that the scheduler fits a store of <paramref name="levels"/> levels and returns the instance that store
    /// uses: this one when the scheduler keeps no state between picks, else a new one. Called once per store.
    /// </summary>
    /// <param name="levels">The store's levels.</param>
    /// <returns>The scheduler the store uses.</returns>
    /// <exception cref="ArgumentException">The scheduler does not fit the store (e.g. one weight per level is needed).</exception>
    public virtual LevelScheduler ForStore(int levels) => this;

    /// <summary>
    /// Picks a ready level and how many of its messages in a row (<paramref name="run"/>, at least 1) the store may
    /// hand out before it asks again. Called under the store's lock, only when a level is ready.
    /// </summary>
    /// <param name="ready">The store's ready levels.</param>
    /// <param name="max">The most messages the receive still takes (at least 1).</param>
    /// <param name="run">How many messages in a row may come from the level: 1 to re-decide after each, <see cref="int.MaxValue"/> for as many as the receive takes.</param>
    /// <returns>A level for which <see cref="ReadyLevels.CountAt"/> is not 0.</returns>
    public abstract int SelectLevel(ReadyLevels ready, int max, out int run);

    /// <summary>
    /// Whether a consumer holding an unstarted message of <paramref name="level"/>, enqueued at
    /// <paramref name="enqueuedAt"/>, should hand it back because <see cref="SelectLevel"/> would now choose another
    /// level (see <see cref="IPreemptibleStore{TMessage}"/>). Override it with the rule of <see cref="SelectLevel"/>:
    /// a scheduler that serves a lower level on purpose must not have its choice handed back. Called under the
    /// store's lock, like <see cref="SelectLevel"/>, with <see cref="ReadyLevels.Now"/> set to the time of the call.
    /// Default: whether a higher level is ready.
    /// </summary>
    /// <param name="ready">The store's ready levels (the held message is not among them).</param>
    /// <param name="level">The level of the held message.</param>
    /// <param name="enqueuedAt">When the held message was accepted.</param>
    /// <returns><see langword="true"/> to hand it back.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ready"/> is <see langword="null"/>.</exception>
    public virtual bool Preempts(ReadyLevels ready, int level, DateTimeOffset enqueuedAt)
    {
        ArgumentNullException.ThrowIfNull(ready);
        return ready.Highest > level;
    }

    /// <summary>
    /// Whether <see cref="Preempts"/> is the default rule (a higher level is ready), which the store answers from its
    /// level bitmap without taking its lock.
    /// </summary>
    internal bool PreemptsByLevelOnly =>
        GetType().GetMethod(nameof(Preempts), [typeof(ReadyLevels), typeof(int), typeof(DateTimeOffset)])!.DeclaringType == typeof(LevelScheduler);

    /// <summary>Whether a first start after <paramref name="waitTicks"/> missed the level's latency target (for the breach metric).</summary>
    internal virtual bool IsLate(int level, long waitTicks) => false;
}
