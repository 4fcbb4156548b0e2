using System.Threading.Channels;
using BenchmarkDotNet.Attributes;

namespace MessagingPatterns.Benchmarks.LoadLeveling;

/// <summary>
/// What the load-leveling buffer costs over the store it wraps, with no rate limit: publish 100,000 messages, then
/// receive them in batches of 100 and acknowledge each. Judge by Ratio against the undecorated in-memory store; the raw
/// unbounded channel shows the floor for an in-process queue without leases.
/// </summary>
[MemoryDiagnoser]
public class LoadLevelingOverheadBenchmarks
{
    private const int Messages = 100_000;
    private const int Batch = 100;
    private static readonly TimeSpan s_lease = TimeSpan.FromMinutes(5);
    private readonly Delivery<int>[] _buffer = new Delivery<int>[Batch];
    private IMessageStore<int> _plain = null!;
    private IMessageStore<int> _leveled = null!;
    private Channel<Message<int>> _channel = null!;

    [GlobalSetup]
    public void Setup()
    {
        _plain = MessageStore.CreateInMemory<int>("plain");
        _leveled = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("leveled"), new LoadLevelingOptions { Capacity = Messages });
        _channel = Channel.CreateUnbounded<Message<int>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _plain.DisposeAsync();
        await _leveled.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "in-memory store")]
    public Task InMemoryStore() => RunAsync(_plain);

    [Benchmark(OperationsPerInvoke = Messages, Description = "load-leveled in-memory store (no limit)")]
    public Task LoadLeveledStore() => RunAsync(_leveled);

    [Benchmark(OperationsPerInvoke = Messages, Description = "unbounded Channel<T>")]
    public async Task UnboundedChannel()
    {
        var writer = _channel.Writer;
        for (var i = 0; i < Messages; i++)
        {
            await writer.WriteAsync(new Message<int>(i));
        }

        var reader = _channel.Reader;
        for (var i = 0; i < Messages; i++)
        {
            _ = await reader.ReadAsync();
        }
    }

    private async Task RunAsync(IMessageStore<int> store)
    {
        for (var i = 0; i < Messages; i++)
        {
            await store.EnqueueAsync(new Message<int>(i));
        }

        var left = Messages;
        while (left > 0)
        {
            var received = await store.ReceiveAsync(_buffer, s_lease);
            for (var i = 0; i < received; i++)
            {
                await store.AckAsync(_buffer[i].Lease);
            }

            left -= received;
        }
    }
}
