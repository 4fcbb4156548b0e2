using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.LoadLeveling;

/// <summary>
/// The cost of the pacing path itself: receives that take permits from a token bucket too fast to ever make them wait,
/// against the same buffer without a limiter.
/// </summary>
[MemoryDiagnoser]
public class LoadLevelingPacedBenchmarks
{
    private const int Messages = 100_000;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);
    private readonly Delivery<int>[] _buffer = new Delivery<int>[1];
    private IMessageStore<int> _unpaced = null!;
    private IMessageStore<int> _paced = null!;

    [GlobalSetup]
    public void Setup()
    {
        _unpaced = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("unpaced"), new LoadLevelingOptions { Capacity = Messages });
        _paced = MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<int>("paced"),
            new LoadLevelingOptions { Capacity = Messages, MessagesPerSecond = 1e9, Burst = int.MaxValue });
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _unpaced.DisposeAsync();
        await _paced.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "load-leveled, no limiter, receive 1 at a time")]
    public Task Unpaced() => RunAsync(_unpaced);

    [Benchmark(OperationsPerInvoke = Messages, Description = "load-leveled, token bucket never empty, receive 1 at a time")]
    public Task Paced() => RunAsync(_paced);

    private async Task RunAsync(IMessageStore<int> store)
    {
        for (var i = 0; i < Messages; i++)
        {
            await store.EnqueueAsync(new Message<int>(i));
        }

        for (var i = 0; i < Messages; i++)
        {
            await store.ReceiveAsync(_buffer, s_lease);
            await store.AckAsync(_buffer[0].Lease);
        }
    }
}
