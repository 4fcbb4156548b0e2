/// <summary>Publishes messages on a schedule: how many should have gone out by a given time into the run.</summary>
public static class Schedule
{
    public static async Task PublishAsync(Func<TimeSpan, int> dueBy, TimeSpan duration, Func<int, Task> publish)
    {
        var start = TimeProvider.System.GetTimestamp();
        var sent = 0;
        while (true)
        {
            var elapsed = TimeProvider.System.GetElapsedTime(start);
            for (var due = dueBy(elapsed < duration ? elapsed : duration); sent < due; sent++)
            {
                await publish(sent);
            }

            if (elapsed >= duration)
            {
                return;
            }

            // Small batches every few milliseconds keep the rate steady without a timer per message.
            await Task.Delay(TimeSpan.FromMilliseconds(5));
        }
    }
}
