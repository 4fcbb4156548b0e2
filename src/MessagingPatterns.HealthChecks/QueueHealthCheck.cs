using System.Globalization;
using MessagingPatterns.DependencyInjection;
using MessagingPatterns.Diagnostics;
using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.HealthChecks;

/// <summary>
/// One queue's health: unhealthy when one of its consumer pools is not running or its store does not answer in
/// time; degraded when its depth or its oldest ready message's age passes the configured threshold; healthy
/// otherwise. The statistics go into the result's data, so a dashboard can show why.
/// </summary>
internal sealed class QueueHealthCheck(RegisteredQueue queue, IServiceProvider services) : IHealthCheck
{
    private readonly ILogger _logger = services.GetService<ILogger<QueueHealthCheck>>() ?? (ILogger)NullLogger.Instance;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var options = services.GetRequiredService<IOptionsMonitor<MessagingHealthCheckOptions>>().Get(queue.Name);
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var unhealthy = new List<string>();
        CheckPools(data, unhealthy);

        StoreStatistics statistics;
        try
        {
            statistics = await queue.ReadStatisticsAsync(services, cancellationToken).AsTask()
                .WaitAsync(options.StoreTimeout, services.GetService<TimeProvider>() ?? TimeProvider.System, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            HealthCheckLog.StoreTimedOut(_logger, queue.Name, options.StoreTimeout);
            unhealthy.Add($"its store did not answer within {options.StoreTimeout}");
            return HealthCheckResult.Unhealthy(Describe(unhealthy), data: data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The type only in the description: an exception's message may carry a server's address or a user's
            // data, and a health endpoint may be public. The log and the result's exception (which endpoint writers
            // often serialize) carry the message through the Redact hook.
            HealthCheckLog.StoreFailed(StoreRedaction.Logger(_logger, options.Redact), ex, queue.Name);
            unhealthy.Add($"its store failed ({ex.GetType().Name})");
            return HealthCheckResult.Unhealthy(Describe(unhealthy), options.Redact is null ? ex : new Redaction(options.Redact).ForLog(ex), data);
        }

        data["ready"] = statistics.Ready;
        data["delayed"] = statistics.Delayed;
        data["inFlight"] = statistics.InFlight;
        data["deadLettered"] = statistics.DeadLettered;
        if (statistics.OldestReadyAge is { } age)
        {
            data["oldestReadyAgeSeconds"] = age.TotalSeconds;
        }

        if (unhealthy.Count > 0)
        {
            return HealthCheckResult.Unhealthy(Describe(unhealthy), data: data);
        }

        var degraded = new List<string>();
        if (options.ReadyThreshold is { } maxReady && statistics.Ready > maxReady)
        {
            degraded.Add(string.Create(CultureInfo.InvariantCulture, $"{statistics.Ready} messages are ready, more than {maxReady}"));
        }

        if (options.OldestReadyAgeThreshold is { } maxAge && statistics.OldestReadyAge > maxAge)
        {
            degraded.Add(string.Create(CultureInfo.InvariantCulture, $"its oldest ready message has waited {statistics.OldestReadyAge}, longer than {maxAge}"));
        }

        return degraded.Count > 0
            ? HealthCheckResult.Degraded(Describe(degraded), data: data)
            : HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Queue '{queue.Name}': {statistics.Ready} ready, consumers running."), data);
    }

    private void CheckPools(Dictionary<string, object> data, List<string> unhealthy)
    {
        var states = new List<string>();
        foreach (var registered in services.GetServices<RegisteredConsumerPool>())
        {
            if (registered.Pool.QueueName != queue.Name)
            {
                continue;
            }

            var state = registered.Pool.State;
            states.Add(state.ToString());
            if (state != ConsumerPoolState.Running)
            {
                unhealthy.Add(state switch
                {
                    ConsumerPoolState.NotStarted => "a consumer pool has not started",
                    ConsumerPoolState.Stopped => "a consumer pool has stopped",
                    _ => "a consumer pool has faulted (its workers ended without a stop)",
                });
            }
        }

        if (states.Count > 0)
        {
            data["consumerPools"] = string.Join(", ", states);
        }
    }

    private string Describe(List<string> problems) => $"Queue '{queue.Name}': {string.Join("; ", problems)}.";
}
