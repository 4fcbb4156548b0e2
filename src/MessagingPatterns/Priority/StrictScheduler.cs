namespace MessagingPatterns.Priority;

/// <summary>Strict priority: the highest ready level, until it empties.</summary>
internal sealed class StrictScheduler : LevelScheduler
{
    public static readonly StrictScheduler Instance = new();

    public override int SelectLevel(ReadyLevels ready, int max, out int run)
    {
        // The highest level stays the highest until it empties: nothing is added while a receive takes.
        run = int.MaxValue;
        return ready.Highest;
    }
}
