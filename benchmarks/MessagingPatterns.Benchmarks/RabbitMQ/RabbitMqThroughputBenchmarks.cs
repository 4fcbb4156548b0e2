using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using MessagingPatterns.Benchmarks.Sqlite;
using MessagingPatterns.RabbitMQ;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MessagingPatterns.Benchmarks.RabbitMQ;

/// <summary>
/// One producer and two consumers moving 100,000 persistent, confirmed messages through a durable priority
/// queue on the broker that <c>scripts/brokers.sh start rabbitmq</c> runs (MESSAGING_RABBITMQ_URI), through
/// the store and, as the baseline, through RabbitMQ.Client directly doing the same work: the producer keeps
/// up to 4,096 confirmed publishes in flight (the broker confirms persistent messages after its periodic flush, so the window sets the pace), each consumer has its own connection, a prefetch of 64 and acks
/// each message. One operation is one message, so msgs/s = 1e9 / Mean(ns).
/// </summary>
/// <remarks>
/// In process, with one warm-up and three iterations per launch: an iteration moves 100,000 messages (seconds),
/// and building a separate benchmark process can outlast BenchmarkDotNet's build timeout on a busy 2-core
/// machine. Compare launches by running the class several times.
/// </remarks>
[Config(typeof(InProcessConfig))]
public class RabbitMqThroughputBenchmarks
{
    private const int Messages = 100_000;
    private const int InFlight = 4_096;
    private const ushort Prefetch = 64;

    private static readonly string s_uri = Environment.GetEnvironmentVariable("MESSAGING_RABBITMQ_URI") ?? "amqp://guest:guest@127.0.0.1:55672/";
    private readonly string _storeQueue = $"bench-store-{Environment.ProcessId}";
    private readonly string _directQueue = $"bench-direct-{Environment.ProcessId}";
    private readonly byte[] _body = "{\"number\":42,\"text\":\"hello\"}"u8.ToArray();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IAsyncDisposable> _disposables = [];
    private IMessageStore<BenchMessage> _producerStore = null!;
    private IChannel _directPublisher = null!;
    private int _handled;
    private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var options = new RabbitMqStoreOptions { ConnectionUri = s_uri, PrefetchCount = Prefetch };
        _producerStore = Own(RabbitMqMessageStore.Create<BenchMessage>(_storeQueue, options));
        for (var i = 0; i < 2; i++)
        {
            var consumer = Own(RabbitMqMessageStore.Create<BenchMessage>(_storeQueue, options));
            _ = ConsumeFromStoreAsync(consumer);
        }

        var factory = new ConnectionFactory { Uri = new Uri(s_uri) };
        var publisherConnection = Own(await factory.CreateConnectionAsync());
        _directPublisher = Own(await publisherConnection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)));
        await _directPublisher.QueueDeclareAsync(_directQueue, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?> { ["x-queue-type"] = "classic", ["x-max-priority"] = 9 });
        for (var i = 0; i < 2; i++)
        {
            var connection = Own(await factory.CreateConnectionAsync());
            var channel = Own(await connection.CreateChannelAsync());
            await channel.BasicQosAsync(0, Prefetch, global: false);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
                Handled();
            };
            await channel.BasicConsumeAsync(_directQueue, autoAck: false, consumer);
        }

        await _producerStore.GetStatisticsAsync(); // connects and declares the store's queue
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _stop.CancelAsync();
        await _directPublisher.QueueDeleteAsync(_directQueue);
        await _directPublisher.QueueDeleteAsync(_storeQueue);
        await _directPublisher.QueueDeleteAsync(_storeQueue + ".dead-letter");
        for (var i = _disposables.Count - 1; i >= 0; i--)
        {
            await _disposables[i].DisposeAsync();
        }
    }

    [IterationSetup]
    public void Reset()
    {
        _handled = 0;
        _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "RabbitMQ.Client directly")]
    public async Task Direct()
    {
        var properties = new BasicProperties { DeliveryMode = DeliveryModes.Persistent, Priority = 0 };
        await PublishWindowedAsync(_ => _directPublisher.BasicPublishAsync(string.Empty, _directQueue, mandatory: true, properties, _body));
        await _done.Task;
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "RabbitMQ store")]
    public async Task Store()
    {
        await PublishWindowedAsync(i => _producerStore.EnqueueAsync(new Message<BenchMessage>(new BenchMessage(i, "hello"))));
        await _done.Task;
    }

    private static async Task PublishWindowedAsync(Func<int, ValueTask> publish)
    {
        var window = new Task[InFlight];
        for (var i = 0; i < Messages; i++)
        {
            var slot = i % InFlight;
            if (window[slot] is { } previous)
            {
                await previous;
            }

            window[slot] = publish(i).AsTask();
        }

        await Task.WhenAll(window.Where(task => task is not null));
    }

    private async Task ConsumeFromStoreAsync(IMessageStore<BenchMessage> store)
    {
        var buffer = new Delivery<BenchMessage>[16];
        while (!_stop.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5), _stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            for (var i = 0; i < received; i++)
            {
                await store.AckAsync(buffer[i].Lease);
                Handled();
            }
        }
    }

    private sealed class InProcessConfig : ManualConfig
    {
        public InProcessConfig() =>
            AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(1).WithIterationCount(3).WithInvocationCount(1).WithUnrollFactor(1).WithId("InProcess"));
    }

    private void Handled()
    {
        if (Interlocked.Increment(ref _handled) == Messages)
        {
            _done.TrySetResult();
        }
    }

    private T Own<T>(T disposable)
        where T : IAsyncDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }
}
