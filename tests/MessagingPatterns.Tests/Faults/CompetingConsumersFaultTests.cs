using System.Collections.Concurrent;
using MessagingPatterns.Tests.Support;
using Xunit.Abstractions;

namespace MessagingPatterns.Tests.Faults;

/// <summary>
/// Competing consumers under handler faults, checked with a ledger: 4 hosts × 4 workers share one store;
/// attempts throw or hang at random, some messages are poison. Every message must end up handled or
/// dead-lettered with its reason; every duplicate must be a redelivery (delivery count ≥ 2) or the retry of an
/// attempt that returned after its timeout (which the pool logs).
/// </summary>
/// <remarks>
/// Runs on real time with short timeouts: the assertions are invariants that hold however the threads
/// interleave, so the outcome does not depend on timing, only the number of duplicates does.
/// </remarks>
public sealed class CompetingConsumersFaultTests(ITestOutputHelper output)
{
    private const int Hosts = 4;
    private const int WorkersPerHost = 4;
    private const int Messages = 100_000;
    private const int PoisonEvery = 1_000;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HandlerFaults_AcrossFourHosts_LoseNothing(bool renewLeases)
    {
        await using var store = MessageStore.CreateInMemory<int>("faults");
        var ledger = new Ledger();
        var options = new ConsumerOptions
        {
            Concurrency = WorkersPerHost,
            PrefetchCount = 4,
            MaxDeliveryAttempts = 5,
            RetryCount = 1,
            RetryBaseDelay = TimeSpan.Zero,
            RedeliveryDelay = TimeSpan.Zero,
            RenewLeases = renewLeases,

            // With renewal a hung attempt is cancelled by its timeout long before the lease matters; without
            // renewal the lease ends first, so another worker receives the message while the first still hangs.
            HandlerTimeout = TimeSpan.FromMilliseconds(renewLeases ? 20 : 60),
            LeaseDuration = renewLeases ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(15),
        };

        var logger = new ListLogger<ConsumerWorkerPool<int>>();
        var consumer = new DelegateConsumer<int>(ledger.HandleAsync);
        var pools = Enumerable.Range(0, Hosts)
            .Select(_ => new ConsumerWorkerPool<int>(store, PoolFactory.Scopes, _ => consumer, options, logger: logger))
            .ToArray();
        foreach (var pool in pools)
        {
            await pool.StartAsync(default);
        }

        for (var i = 0; i < Messages; i += 500)
        {
            await store.EnqueueBatchAsync(Enumerable.Range(i, 500).Select(n => new Message<int>(n, $"m{n}")).ToArray());
        }

        await ledger.AllSettled.Task.WaitAsync(TimeSpan.FromMinutes(3));
        foreach (var pool in pools)
        {
            await pool.StopAsync(default).Within();
        }

        var deadLetters = await store.GetDeadLettersAsync(Messages);
        var statistics = await store.GetStatisticsAsync();
        output.WriteLine($"renewal {renewLeases}: attempts {ledger.Attempts}, thrown {ledger.Thrown}, hung {ledger.Hung}, " +
            $"duplicates {ledger.Duplicates}, dead-lettered {deadLetters.Count}, final {statistics}");

        var deadLettered = deadLetters.Select(d => d.Message!.Body).ToHashSet();
        var lost = Enumerable.Range(0, Messages).Where(n => !ledger.Succeeded.ContainsKey(n) && !deadLettered.Contains(n)).ToList();
        lost.Should().BeEmpty("no message may be lost");
        var poison = Enumerable.Range(0, Messages / PoisonEvery).Select(i => i * PoisonEvery).ToList();
        deadLettered.Should().Contain(poison, "poison messages exhaust their attempts");
        deadLetters.Should().AllSatisfy(d =>
        {
            var body = d.Message!.Body;
            if (renewLeases)
            {
                d.Reason.Should().Be($"System.InvalidOperationException: poison {body}");
                d.DeliveryCount.Should().Be(options.MaxDeliveryAttempts);
            }
            else if (d.DeliveryCount > options.MaxDeliveryAttempts)
            {
                // Without renewal a lease may end under its handler, and the copy delivered once too often is
                // dead-lettered unhandled: a poison message whose last holder lost its lease, or (rarely, on a
                // slow machine) a message already handled whose lease ended before its ack, six times over.
                d.Reason.Should().StartWith($"Delivered {d.DeliveryCount} times, over the {options.MaxDeliveryAttempts} allowed");
                (poison.Contains(body) || ledger.Succeeded.ContainsKey(body)).Should().BeTrue($"message {body} is poison or was handled");
            }
            else
            {
                d.Reason.Should().Be($"System.InvalidOperationException: poison {body}");
            }
        });
        statistics.Should().Be(new StoreStatistics(0, 0, 0, deadLetters.Count), "everything else was acknowledged");

        // An attempt that returned after its timeout cancelled its token is failed and retried (the handler may
        // have stopped half way): the one duplicate within a delivery allowed, and the pool logs it.
        var returnedLateAttempts = logger.Entries.Where(e => e.Message.Contains("returned normally after its handler timeout"))
            .Select(e => e.Message.Split(' ')[4]).ToList();
        var returnedLate = returnedLateAttempts.ToHashSet();
        foreach (var (message, deliveries) in ledger.Succeeded)
        {
            if (deliveries.Count(count => count < 2) > 1)
            {
                returnedLate.Should().Contain($"m{message}", $"message {message}: every duplicate is a redelivery or the retry of an attempt that returned late");
            }
        }

        if (renewLeases)
        {
            ledger.Duplicates.Should().BeLessThanOrEqualTo(returnedLateAttempts.Count, "with renewal no lease ends under a running handler");
        }
    }

    private sealed class Ledger
    {
        private readonly ConcurrentDictionary<int, byte> _finalPoisonDeliveries = new();
        private readonly ConcurrentDictionary<int, byte> _firstSuccesses = new();
        private int _settled;

        public ConcurrentDictionary<int, ConcurrentBag<int>> Succeeded { get; } = new();

        public TaskCompletionSource AllSettled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Attempts;
        public int Thrown;
        public int Hung;
        public int Duplicates;

        public async Task HandleAsync(MessageContext<int> context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            var body = context.Body;
            if (body % PoisonEvery == 0)
            {
                // The last delivery may run several attempts (in-process retries): count the message once.
                if (context.DeliveryCount == 5 && _finalPoisonDeliveries.TryAdd(body, 0))
                {
                    Settle();
                }

                throw new InvalidOperationException($"poison {body}");
            }

            var roll = Random.Shared.Next(100);
            if (roll < 5)
            {
                Interlocked.Increment(ref Thrown);
                throw new TimeoutException("transient");
            }

            if (roll < 6)
            {
                Interlocked.Increment(ref Hung);
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            // As a careful handler does: nothing is committed once the token says the attempt is over.
            cancellationToken.ThrowIfCancellationRequested();
            Succeeded.GetOrAdd(body, _ => []).Add(context.DeliveryCount);

            // Duplicates may succeed at the same moment: exactly one of them counts the message as settled.
            if (_firstSuccesses.TryAdd(body, 0))
            {
                Settle();
            }
            else
            {
                Interlocked.Increment(ref Duplicates);
            }
        }

        private void Settle()
        {
            if (Interlocked.Increment(ref _settled) == Messages)
            {
                AllSettled.TrySetResult();
            }
        }
    }
}
