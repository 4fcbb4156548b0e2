namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>Tests that cut the shared broker's connections: they run alone, so no other test sees a cut.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerFaults
{
    public const string Name = "RabbitMQ broker faults";
}
