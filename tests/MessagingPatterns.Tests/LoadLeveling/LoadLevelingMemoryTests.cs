using System.Runtime.CompilerServices;
using MessagingPatterns.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>
/// Producers at ten times the consumer rate for a sustained (simulated) minute: they are throttled, and the managed
/// heap stays flat. Runs alone, so other tests' allocations do not blur the measurement.
/// </summary>
[Collection(nameof(HeapMeasuring))]
public sealed class LoadLevelingMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SustainedOverload_InWaitMode_ThrottlesProducersAndKeepsTheHeapFlat()
    {
        const int capacity = 10_000;
        const int consumerRate = 1_000;
        const int producers = 10;
        const int attemptsPerProducerPerStep = 10; // 10 producers × 10 per 10 ms = 10,000/s: ten times the consumer rate
        var step = TimeSpan.FromMilliseconds(10);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = MessageStore.WithLoadLeveling(
            MessageStore.CreateInMemory<int>("overload", timeProvider: time),
            new LoadLevelingOptions { Capacity = capacity, MessagesPerSecond = consumerRate, Burst = 10 },
            time);
        var pending = new Task?[producers];
        long published = 0, throttled = 0, handled = 0;
        var heap = new List<(int Second, long Bytes)>();

        for (var i = 0; i < 60 * 100; i++)
        {
            for (var p = 0; p < producers; p++)
            {
                for (var a = 0; a < attemptsPerProducerPerStep; a++)
                {
                    if (pending[p] is { IsCompleted: false })
                    {
                        throttled++;
                        continue;
                    }

                    if (pending[p] is { } done)
                    {
                        await done.WaitAsync(Pump.Patience);
                    }

                    pending[p] = store.EnqueueAsync(new Message<int>((int)published)).AsTask();
                    published++;
                }
            }

            handled += await Pump.DrainAvailableAsync(store, bufferSize: 10);

            // Publishes handed room by those acks finish on the thread pool; let them land before time moves on.
            while (true)
            {
                var waiting = store.GetSnapshot().WaitingPublishers;
                var incomplete = pending.Where(t => t is { IsCompleted: false }).Select(t => t!).ToList();
                if (incomplete.Count <= waiting)
                {
                    break;
                }

                await Task.WhenAny(incomplete).WaitAsync(Pump.Patience);
            }

            time.Advance(step);
            var second = (i + 1) / 100;
            if ((i + 1) % 100 == 0 && second >= 15 && second % 5 == 0)
            {
                heap.Add((second, GC.GetTotalMemory(forceFullCollection: true)));
                store.GetSnapshot().Depth.Should().BeLessThanOrEqualTo(capacity);
            }
        }

        foreach (var (second, bytes) in heap)
        {
            output.WriteLine($"t={second,3} s  heap={bytes / 1024.0 / 1024.0:F2} MiB");
        }

        output.WriteLine($"published {published}, handled {handled}, throttled attempts {throttled}");
        var snapshot = store.GetSnapshot();
        snapshot.Depth.Should().BeInRange(capacity - producers, capacity, "the buffer stays full under overload");
        snapshot.WaitingPublishers.Should().BeLessThanOrEqualTo(producers);
        throttled.Should().BeGreaterThan(published, "producers spend most of their attempts waiting");
        (published - handled).Should().BeLessThanOrEqualTo(capacity + producers, "only the buffer and the waiting publishes hold messages");
        var growth = heap.Max(h => h.Bytes) - heap.Min(h => h.Bytes);
        growth.Should().BeLessThan(4 * 1024 * 1024, "the heap stays flat while {0} more messages flow through", handled);
    }

    [Fact]
    public void Buffer_DroppedWithoutDisposing_IsCollected()
    {
        var buffers = CreateAndDrop();

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        buffers.Should().OnlyContain(b => !b.IsAlive, "nothing static keeps a buffer alive once its user let go of it");
    }

    [Fact]
    public async Task DeadLettering_ManyMessagesUnderAByteBound_HoldsNoMemoryForThem()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = MessageStore.WithLoadLeveling<string>(
            new DiscardingDeadLetterStore(MessageStore.CreateInMemory<string>("dead-letters", timeProvider: time)),
            new LoadLevelingOptions { Capacity = 1_000, CapacityBytes = 1_000_000, MessageSize = static b => ((string)b).Length },
            time);
        var buffer = new Delivery<string>[100];
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var round = 0; round < 200; round++)
        {
            await store.EnqueueBatchAsync(Enumerable.Range(0, 100).Select(i => new Message<string>("body", $"{round:D4}-{i:D3}-{new string('x', 150)}")).ToArray());
            var received = await store.ReceiveAsync(buffer, Pump.Lease).AsTask().WaitAsync(Pump.Patience);
            for (var i = 0; i < received; i++)
            {
                (await store.DeadLetterAsync(buffer[i].Lease, "poison")).Should().BeTrue();
            }
        }

        Array.Clear(buffer);
        var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
        output.WriteLine($"heap growth after 20,000 dead letters: {growth / 1024.0:F0} KiB");
        growth.Should().BeLessThan(1024 * 1024, "a dead letter the store no longer holds leaves nothing behind in the buffer");
        store.GetSnapshot().Bytes.Should().Be(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference[] CreateAndDrop()
    {
        var time = new FakeTimeProvider();
        var plain = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("dropped"), new LoadLevelingOptions { MessagesPerSecond = 10 });
        var durable = MessageStore.WithLoadLeveling(new DurableTestStore<int>(MessageStore.CreateInMemory<int>("dropped-durable")), new LoadLevelingOptions());
        var faked = MessageStore.WithLoadLeveling(MessageStore.CreateInMemory<int>("dropped-fake", timeProvider: time), new LoadLevelingOptions(), time);
        return [new WeakReference(plain), new WeakReference(durable), new WeakReference(faked)];
    }

    /// <summary>A store that forgets what it dead-letters, as a store whose dead letters were purged would.</summary>
    private sealed class DiscardingDeadLetterStore(IMessageStore<string> inner) : ForwardingStore<string>(inner)
    {
        public override ValueTask<bool> DeadLetterAsync(LeaseToken lease, string reason, CancellationToken cancellationToken = default) =>
            AckAsync(lease, cancellationToken);
    }
}
