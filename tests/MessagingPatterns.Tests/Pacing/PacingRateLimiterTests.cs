using MessagingPatterns.Pacing;
using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Pacing;

public sealed class PacingRateLimiterTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Theory]
    [InlineData(500, 1, 1)]
    [InlineData(500, 5, 2)]
    [InlineData(100, 1, 3)]
    [InlineData(333, 3, 4)]
    public async Task Permits_OnAClockAdvancedInUnevenSteps_StayWithinBothBoundsOverEveryWindow(double rate, int burst, int seed)
    {
        using var limiter = new PacingRateLimiter(rate, burst, _time);
        var requests = Enumerable.Range(0, (int)(rate * 3)).Select(_ => limiter.AcquireAsync(1).AsTask()).ToArray();

        // Observations: the clock (in seconds) and how many permits had been granted by then, in order.
        var random = new Random(seed);
        var times = new List<double> { 0 };
        var granted = new List<int> { CountGranted(requests) };
        var now = 0.0;
        while (granted[^1] < requests.Length)
        {
            var step = random.Next(1, 8);
            _time.Advance(TimeSpan.FromMilliseconds(step));
            now += step / 1000.0;
            times.Add(now);
            granted.Add(CountGranted(requests));
        }

        for (var a = 0; a < times.Count; a++)
        {
            for (var b = a + 1; b < times.Count; b++)
            {
                var window = times[b] - times[a];
                var starts = granted[b] - granted[a];
                starts.Should().BeLessThanOrEqualTo((int)Math.Floor(burst + (rate * window) + 1e-6), $"at most the burst plus the rate over ({times[a]:F3} s, {times[b]:F3} s]");
                if (granted[b] < requests.Length)
                {
                    starts.Should().BeGreaterThanOrEqualTo((int)Math.Ceiling((rate * window) - 1 - 1e-6), $"requests waited all through ({times[a]:F3} s, {times[b]:F3} s]");
                }
            }
        }

        (await Task.WhenAll(requests).WaitAsync(s_patience)).Should().OnlyContain(l => l.IsAcquired);
    }

    [Fact]
    public async Task AcquireContinuing_AfterALateGrant_MakesUpTheLatenessInsteadOfLosingIt()
    {
        using var limiter = new PacingRateLimiter(100, 1, _time);
        (await limiter.AcquireAsync(1)).IsAcquired.Should().BeTrue();
        var waiting = limiter.AcquireAsync(1).AsTask();

        // The timer for 10 ms fires 25 ms late: the permits due at 20 and 30 ms are owed to a consumer that kept asking.
        _time.Advance(TimeSpan.FromMilliseconds(35));
        (await waiting.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
        (await limiter.AcquireContinuingAsync(1, CancellationToken.None)).IsAcquired.Should().BeTrue();
        (await limiter.AcquireContinuingAsync(1, CancellationToken.None)).IsAcquired.Should().BeTrue();
        var next = limiter.AcquireContinuingAsync(1, CancellationToken.None).AsTask();

        next.IsCompleted.Should().BeFalse("the permit scheduled at 40 ms is not due yet");
        _time.Advance(TimeSpan.FromMilliseconds(5));
        (await next.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task Acquire_AfterAQuietSpell_TakesNoMoreThanTheBurst()
    {
        using var limiter = new PacingRateLimiter(100, 2, _time);
        _time.Advance(TimeSpan.FromSeconds(5));

        limiter.AttemptAcquire(1).IsAcquired.Should().BeTrue();
        limiter.AttemptAcquire(1).IsAcquired.Should().BeTrue();
        limiter.AttemptAcquire(1).IsAcquired.Should().BeFalse("five idle seconds add up to the burst, no more");
        var next = limiter.AcquireAsync(1).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(10));
        (await next.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task ServesWaitersInOrderAtTheConfiguredRate()
    {
        using var limiter = new PacingRateLimiter(4, 2, _time);
        (await limiter.AcquireAsync(2)).IsAcquired.Should().BeTrue("the bucket starts full");
        limiter.AttemptAcquire(1).IsAcquired.Should().BeFalse();

        var first = limiter.AcquireAsync(1).AsTask();
        var second = limiter.AcquireAsync(2).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(249));
        first.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromMilliseconds(1));
        (await first.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
        limiter.AttemptAcquire(1).IsAcquired.Should().BeFalse("a waiting request is not overtaken");

        _time.Advance(TimeSpan.FromMilliseconds(500));
        (await second.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
        limiter.GetStatistics()!.TotalSuccessfulLeases.Should().Be(3);
    }

    [Fact]
    public async Task CancelledRequest_TakesNoPermitAndLetsTheNextOneThrough()
    {
        using var limiter = new PacingRateLimiter(1, 1, _time);
        limiter.AttemptAcquire(1).IsAcquired.Should().BeTrue();
        using var cancellation = new CancellationTokenSource();
        var cancelled = limiter.AcquireAsync(1, cancellation.Token).AsTask();
        var next = limiter.AcquireAsync(1).AsTask();

        await cancellation.CancelAsync();
        await FluentActions.Awaiting(() => cancelled.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>();
        _time.Advance(TimeSpan.FromSeconds(1));

        (await next.WaitAsync(s_patience)).IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task IdleDuration_CountsFromWhenTheBucketFilled()
    {
        using var limiter = new PacingRateLimiter(10, 1, _time);
        (await limiter.AcquireAsync(1)).IsAcquired.Should().BeTrue();
        limiter.IdleDuration.Should().BeNull("the bucket is not full");

        // Full again 100 ms later; idle since then.
        _time.Advance(TimeSpan.FromMilliseconds(400));

        limiter.IdleDuration.Should().Be(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task AtARateSoLowTheWaitPassesATimersLimit_QueuesTheRequestInsteadOfFailing()
    {
        using var limiter = new PacingRateLimiter(1e-9, 1, _time);
        limiter.AttemptAcquire(1).IsAcquired.Should().BeTrue();

        var waiting = limiter.AcquireAsync(1).AsTask();
        _time.Advance(TimeSpan.FromDays(50));

        waiting.IsCompleted.Should().BeFalse("a permit comes back only after about 31 years");
        limiter.Dispose();
        (await waiting.WaitAsync(s_patience)).IsAcquired.Should().BeFalse();
    }

    private static int CountGranted(Task[] requests)
    {
        // Requests are served in order, so the granted ones are a prefix.
        var count = 0;
        while (count < requests.Length && requests[count].IsCompleted)
        {
            count++;
        }

        return count;
    }
}
