using Polly;
using Polly.Retry;

namespace MessagingPatterns.Consumers;

/// <summary>
/// The pipeline used when <see cref="ConsumerOptions.ResiliencePipeline"/> is not set: retries with
/// exponential backoff and jitter. Cancellation is never retried. The per-attempt timeout is not a
/// pipeline strategy: the worker pool enforces <see cref="ConsumerOptions.HandlerTimeout"/> on every
/// attempt itself, whatever pipeline runs, without a timer per attempt.
/// </summary>
internal static class DefaultResiliencePipeline
{
    public static ResiliencePipeline Create(ConsumerOptions options, TimeProvider timeProvider)
    {
        if (options.RetryCount == 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.RetryCount,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
            })
            .Build();
    }
}
