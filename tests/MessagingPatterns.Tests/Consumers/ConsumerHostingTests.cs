using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.Tests.Consumers;

/// <summary>Pools registered with DI, run by a real host.</summary>
public sealed class ConsumerHostingTests
{
    [Fact]
    public async Task ThreePoolsInOneHost_StopTogether_AndShareTheDrain()
    {
        var gate = new Gate();
        var probes = new SettlementProbe<int>[3];
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(gate);
        for (var i = 0; i < probes.Length; i++)
        {
            var index = i;
            builder.Services.AddMessageQueue<int>($"drain-{i}", (_, name) => probes[index] = new SettlementProbe<int>(MessageStore.CreateInMemory<int>(name)))
                .AddConsumer<HeldConsumer>(o =>
                {
                    o.Concurrency = 1;
                    o.PrefetchCount = 2;
                    o.ShutdownTimeout = TimeSpan.FromMinutes(10);
                    o.HandlerTimeout = TimeSpan.FromMinutes(10);
                });
        }

        using var host = builder.Build();
        for (var i = 0; i < probes.Length; i++)
        {
            await host.Services.GetRequiredKeyedService<IMessageStore<int>>($"drain-{i}").EnqueueBatchAsync([new Message<int>(1), new Message<int>(2)]);
        }

        await host.StartAsync().Within();
        try
        {
            await StopWhileHandlersRunAsync(host, gate, probes);
        }
        finally
        {
            // A failed assertion must not leave the handlers (and the host's disposal) waiting.
            gate.Finish.TrySetResult();
        }
    }

    private static async Task StopWhileHandlersRunAsync(IHost host, Gate gate, SettlementProbe<int>[] probes)
    {
        for (var i = 0; i < probes.Length; i++)
        {
            await gate.Started.WaitAsync(Bounded.Patience);
        }

        var stopping = host.StopAsync();
        foreach (var probe in probes)
        {
            (await probe.NextSettlementAsync()).Should().Be(("release", true), "every pool gave back what it prefetched as soon as the host began to stop");
        }

        stopping.IsCompleted.Should().BeFalse("the three running handlers are draining");
        gate.Finish.TrySetResult();
        await stopping.Within();
        foreach (var probe in probes)
        {
            (await probe.NextSettlementAsync()).Should().Be(("ack", true), "each pool's running handler finished within the shared drain");
        }
    }

    [Fact]
    public async Task InvalidPoolOptions_FailTheHostStart_NamingTheQueueConsumerAndOption()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(new Gate());
        builder.Services.AddInMemoryQueue<int>("orders").AddConsumer<HeldConsumer>(o => o.Concurrency = 0);
        using var host = builder.Build();

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("orders/HeldConsumer.Concurrency").And.NotContain("pool-");
    }

    [Fact]
    public void PoolOptions_BindFromAConfigurationSectionPerQueueAndConsumer()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Consumers:orders:HeldConsumer:Concurrency"] = "3",
            ["Consumers:orders:HeldConsumer:LeaseDuration"] = "00:01:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddInMemoryQueue<int>("orders").AddConsumer<HeldConsumer>().AddConsumer<HeldConsumer>(o => o.Concurrency = 7);
        services.Configure<ConsumerOptions>("orders/HeldConsumer", configuration.GetSection("Consumers:orders:HeldConsumer"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptionsMonitor<ConsumerOptions>>();
        options.Get("orders/HeldConsumer").Concurrency.Should().Be(3);
        options.Get("orders/HeldConsumer").LeaseDuration.Should().Be(TimeSpan.FromMinutes(1));
        options.Get("orders/HeldConsumer/2").Concurrency.Should().Be(7, "a second pool of the same consumer has options of its own");
    }

    private sealed class Gate
    {
        public SemaphoreSlim Started { get; } = new(0);

        public TaskCompletionSource Finish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class HeldConsumer(Gate gate) : IConsumer<int>
    {
        public async Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            gate.Started.Release();
            await gate.Finish.Task;
        }
    }
}
