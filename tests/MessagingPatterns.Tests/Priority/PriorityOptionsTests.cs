using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// These tests check the validation of the obsolete, lowest-first Weights and LatencyTargets shortcuts too.
#pragma warning disable CS0618

namespace MessagingPatterns.Tests.Priority;

public sealed class PriorityOptionsTests
{
    public static TheoryData<string, Action<MultiQueueOptions>> InvalidMultiQueueOptions => new()
    {
        { "Levels", o => o.Levels = 0 },
        { "Levels", o => o.Levels = 256 },
        { "Weights", o => o.Scheduling = LevelScheduling.Weighted },
        { "Weights", o => (o.Scheduling, o.Weights) = (LevelScheduling.Weighted, [70, 20]) },
        { "Weights", o => (o.Scheduling, o.Weights) = (LevelScheduling.Weighted, [70, 0, 10]) },
        { "LatencyTargets", o => o.Scheduling = LevelScheduling.Deadline },
        { "LatencyTargets", o => (o.Scheduling, o.LatencyTargets) = (LevelScheduling.Deadline, [TimeSpan.FromSeconds(1), TimeSpan.Zero, TimeSpan.FromSeconds(1)]) },
        { "Scheduling", o => o.Scheduling = (LevelScheduling)42 },
        { "Capacity", o => o.Capacity = 0 },
    };

    [Theory]
    [MemberData(nameof(InvalidMultiQueueOptions))]
    public void CreateMultiQueue_InvalidOptions_ThrowsNamingTheOption(string option, Action<MultiQueueOptions> configure)
    {
        var options = new MultiQueueOptions();
        configure(options);

        var act = () => MessageStore.CreateMultiQueue<int>("q", options);

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(option);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(256, null)]
    [InlineData(3, 0.0)]
    [InlineData(3, -5.0)]
    public void CreatePriority_InvalidOptions_Throws(int levels, double? agingMs)
    {
        var options = new PriorityQueueOptions { Levels = levels, AgingMaxWait = agingMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null };

        var act = () => MessageStore.CreatePriority<int>("q", options);

        act.Should().Throw<OptionsValidationException>();
    }

    [Fact]
    public async Task Create_ValidBoundaryOptions_Succeeds()
    {
        await using var widest = MessageStore.CreatePriority<int>("q", new PriorityQueueOptions { Levels = 255 });
        await using var weighted = MessageStore.CreateMultiQueue<int>("q", new MultiQueueOptions { Levels = 1, Scheduling = LevelScheduling.Weighted, Weights = [1] });

        widest.Levels.Should().Be(255);
        await widest.EnqueueAsync(new Message<int>(1, priority: 254));
        weighted.Levels.Should().Be(1);
    }

    [Fact]
    public void AddInMemoryMultiQueue_InvalidOptions_FailWhenTheOptionsAreRead()
    {
        using var provider = new ServiceCollection()
            .AddInMemoryMultiQueue<int>("orders", o => o.Scheduling = LevelScheduling.Deadline).Services
            .BuildServiceProvider();

        var act = () => provider.GetRequiredService<IOptionsMonitor<MultiQueueOptions>>().Get("orders");

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("LatencyTargets");
    }

    [Fact]
    public void AddInMemoryPriorityQueue_InvalidOptions_FailWhenTheOptionsAreRead()
    {
        using var provider = new ServiceCollection()
            .AddInMemoryPriorityQueue<int>("orders", o => o.Levels = 0).Services
            .BuildServiceProvider();

        var act = () => provider.GetRequiredService<IOptionsMonitor<PriorityQueueOptions>>().Get("orders");

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("Levels");
    }

    [Fact]
    public void AddLevelConsumer_LevelOutOfRange_ThrowsNamingTheLevel()
    {
        var builder = new ServiceCollection().AddInMemoryMultiQueue<int>("orders");

        var act = () => builder.AddLevelConsumer<int, NoOpConsumer>(256);

        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("level");
    }

    private sealed class NoOpConsumer : IConsumer<int>
    {
        public Task ConsumeAsync(MessageContext<int> context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
