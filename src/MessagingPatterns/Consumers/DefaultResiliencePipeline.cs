using Polly;
using Polly.Retry;

namespace MessagingPatterns.Consumers;

/// <summary>
/// The pipeline used when <see cref="ConsumerOptions.ResiliencePipeline"/> is not set: retries with
/// exponential backoff and jitter around a per-attempt timeout. Cancellation is never retried.
/// </summary>
internal static class DefaultResiliencePipeline
{
    public static ResiliencePipeline Create(ConsumerOptions options, TimeProvider timeProvider)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = timeProvider };
        if (options.RetryCount > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.RetryCount,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
            });
        }

        return builder.AddTimeout(options.HandlerTimeout).Build();
    }
}
