using Microsoft.Extensions.Hosting;

namespace MessagingPatterns.Consumers;

/// <summary>A consumer pool of any message type, as the container and the health checks see it.</summary>
internal interface IConsumerPoolStatus : IHostedService
{
    /// <summary>The queue the pool consumes.</summary>
    string QueueName { get; }

    /// <summary>Where the pool is in its life.</summary>
    ConsumerPoolState State { get; }
}
