using FluentAssertions;
using Xunit;
using Xunit.Sdk;

namespace MessagingPatterns.Testing;

/// <summary>
/// The seeded model-based random test: sequences of enqueue, receive, ack, release (with and without delay),
/// renew, dead-letter, redrive, stale settles, fake-time steps and dispose-and-reopen, each result checked
/// against a small model of what the store must hold.
/// </summary>
/// <remarks>
/// <c>MESSAGING_MODEL_SEED</c> replays one sequence (the failure message names its seed);
/// <c>MESSAGING_MODEL_SEQUENCES</c> sets how many run (500 by default); <c>MESSAGING_MODEL_REPORT</c> names
/// a file that gets one line per run with the store and the number of operations checked.
/// </remarks>
public abstract partial class MessageStoreConformanceTests
{
    /// <summary>How many sequences the model-based test runs unless <c>MESSAGING_MODEL_SEQUENCES</c> says otherwise.</summary>
    protected virtual int ModelSequences => 500;

    /// <summary>Checks <c>ModelBased</c>: random sequences, every result matches the model.</summary>
    /// <returns>The test's completion.</returns>
    [SkippableFact]
    public async Task ModelBased_RandomSequences_EveryResultMatchesTheModel()
    {
        var replay = Environment.GetEnvironmentVariable("MESSAGING_MODEL_SEED");
        var sequences = int.TryParse(Environment.GetEnvironmentVariable("MESSAGING_MODEL_SEQUENCES"), out var count) ? count : ModelSequences;
        var seeds = replay is not null ? [int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture)] : Enumerable.Range(1, sequences).ToArray();
        long operations = 0;
        foreach (var seed in seeds)
        {
            try
            {
                operations += await RunModelSequenceAsync(seed);
            }
            catch (Exception exception) when (exception is not Xunit.SkipException)
            {
                throw new XunitException($"Model-based sequence with seed {seed} failed (replay it with MESSAGING_MODEL_SEED={seed}): {exception.Message}", exception);
            }
        }

        if (Environment.GetEnvironmentVariable("MESSAGING_MODEL_REPORT") is { Length: > 0 } report)
        {
            await File.AppendAllTextAsync(report, $"{GetType().Name}: {seeds.Length} sequences, {operations} operations{Environment.NewLine}");
        }
    }

    private async Task<int> RunModelSequenceAsync(int seed)
    {
        var random = new Random(seed);
        var name = $"model-{seed}";
        var store = CreateStore(name);
        var model = new StoreModel(Time);
        var timeIsFake = Capabilities.FollowsTimeProvider;
        var steps = random.Next(10, 40);
        var nextId = 0;
        try
        {
            for (var step = 0; step < steps; step++)
            {
                switch (random.Next(12))
                {
                    case 0 or 1 or 2:
                        var id = $"m-{nextId++}";
                        await store.EnqueueAsync(new Message<ConformanceMessage>(new(nextId), id));
                        model.Enqueued(id);
                        break;
                    case 3 or 4:
                        var ready = model.ReadyCount();
                        if (ready == 0)
                        {
                            break;
                        }

                        var want = random.Next(1, 4);
                        var lease = TimeSpan.FromSeconds(random.Next(5, 40));
                        var buffer = new Delivery<ConformanceMessage>[want];
                        var received = await store.ReceiveAsync(buffer, lease).AsTask().WaitAsync(Patience);
                        if (Capabilities.ReceivesEveryReadyMessage)
                        {
                            received.Should().Be(Math.Min(want, ready), "a receive takes what is ready, up to its buffer");
                        }
                        else
                        {
                            received.Should().BeInRange(1, Math.Min(want, ready), "a receive waits for a ready message and takes no more than are ready, up to its buffer");
                        }

                        foreach (var delivery in buffer[..received])
                        {
                            delivery.DeliveryCount.Should().Be(model.Leased(delivery.Message.Id, delivery.Lease, lease), $"the delivery count of {delivery.Message.Id}");
                        }

                        break;
                    case 5:
                        if (model.PickToken(random) is { } acked)
                        {
                            (await store.AckAsync(acked)).Should().Be(model.Ack(acked), "an ack succeeds only with the current, unexpired lease");
                        }

                        break;
                    case 6:
                        if (model.PickToken(random) is { } released)
                        {
                            var delay = timeIsFake && random.Next(2) == 0 ? TimeSpan.FromSeconds(random.Next(1, 20)) : TimeSpan.Zero;
                            (await store.ReleaseAsync(released, delay)).Should().Be(model.Release(released, delay), "a release succeeds only with the current, unexpired lease");
                        }

                        break;
                    case 7:
                        if (model.PickToken(random) is { } renewed)
                        {
                            var duration = TimeSpan.FromSeconds(random.Next(1, 40));
                            (await store.RenewLeaseAsync(renewed, duration)).Should().Be(model.Renew(renewed, duration), "a renewal succeeds only with the current, unexpired lease");
                        }

                        break;
                    case 8:
                        if (model.PickToken(random) is { } poisoned)
                        {
                            (await store.DeadLetterAsync(poisoned, "model")).Should().Be(model.DeadLetter(poisoned), "a dead-letter succeeds only with the current, unexpired lease");
                        }

                        break;
                    case 9:
                        var expected = model.RedriveAll();
                        (await store.RedriveDeadLettersAsync(DeadLetterFilter.All, batchSize: random.Next(1, 5)).AsTask().WaitAsync(Patience))
                            .Should().Be(expected, "a redrive moves every dead letter back");
                        break;
                    case 10:
                        if (timeIsFake)
                        {
                            await AdvanceTimeAsync(TimeSpan.FromSeconds(random.Next(1, 30)));
                        }

                        break;
                    default:
                        if (Capabilities.DurableAcrossReopen && random.Next(3) == 0)
                        {
                            await store.DisposeAsync();
                            store = CreateStore(name);
                            model.Reopened();
                        }
                        else
                        {
                            await StatisticsShouldBeAsync(store, model.Statistics());
                            (await store.GetDeadLettersAsync(1_000)).Select(d => d.MessageId).Should().BeEquivalentTo(model.DeadIds());
                        }

                        break;
                }
            }

            await StatisticsShouldBeAsync(store, model.Statistics());
            return steps;
        }
        finally
        {
            await store.DisposeAsync();
        }
    }
}
