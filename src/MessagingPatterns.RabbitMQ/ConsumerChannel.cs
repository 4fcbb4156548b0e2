using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// The store's consuming side: its own connection without the client's automatic recovery, one channel
/// consuming the queue, and a loop on its own task that opens them again whenever the broker closes them
/// (a lost connection, a <c>channel.close</c> such as <c>consumer_timeout</c>, a <c>basic.cancel</c>).
/// </summary>
/// <remarks>
/// Each channel is one incarnation: a delivery stays tied to the channel object it came on, and once that
/// channel closed an ack on it throws instead of being silently dropped, as the client's recovering channels
/// do with the tags of an older channel. A restart never runs inside a client event handler: those run on
/// the connection's reader loop, which must stay free to read the replies the restart waits for.
/// </remarks>
internal sealed class ConsumerChannel : IAsyncDisposable
{
    private readonly RabbitMqConnection _connection;
    private readonly string _queue;
    private readonly ushort _prefetch;
    private readonly TimeSpan _retryInterval;
    private readonly Func<IChannel, long, BasicDeliverEventArgs, Task> _received;
    private readonly Action _lost;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private Task? _run;
    private IConnection? _amqp;
    private TaskCompletionSource? _closed;
    private IChannel? _channel;
    private string? _consumerTag;
    private long _incarnation;
    private int _cancelling;

    /// <param name="connection">The store's connection, for its settings and its declared topology.</param>
    /// <param name="queue">The queue to consume.</param>
    /// <param name="prefetch">The broker's prefetch for the channel.</param>
    /// <param name="retryInterval">The pause between two failed attempts to consume again.</param>
    /// <param name="received">Called for each delivery, with its channel and that channel's incarnation.</param>
    /// <param name="lost">Called, on the client's thread, when the channel closed: every delivery of it went back to the broker.</param>
    /// <param name="logger">For the restarts.</param>
    public ConsumerChannel(RabbitMqConnection connection, string queue, ushort prefetch, TimeSpan retryInterval, Func<IChannel, long, BasicDeliverEventArgs, Task> received, Action lost, ILogger logger)
    {
        _connection = connection;
        _queue = queue;
        _prefetch = prefetch;
        _retryInterval = retryInterval;
        _received = received;
        _lost = lost;
        _logger = logger;
    }

    /// <summary>The current channel's incarnation; a delivery of an older one is no longer held by this store.</summary>
    public long Incarnation => Volatile.Read(ref _incarnation);

    /// <summary>Starts consuming on first use; later calls do nothing.</summary>
    public void Start()
    {
        if (Volatile.Read(ref _run) is not null)
        {
            return;
        }

        lock (_lock)
        {
            _run ??= Task.Run(() => RunAsync(_stopping.Token));
        }
    }

    /// <summary>Cancels the consumer, so the broker sends nothing more ahead; what it sent stays unacknowledged and can still be settled.</summary>
    public async Task StopAsync()
    {
        Volatile.Write(ref _cancelling, 1);
        if (Volatile.Read(ref _channel) is { IsOpen: true } channel && Volatile.Read(ref _consumerTag) is { } tag)
        {
            try
            {
                await channel.BasicCancelAsync(tag, noWait: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The channel is going anyway; its close gives everything back.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _cancelling, 1);
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _run) is { } run)
        {
            await run.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (Volatile.Read(ref _channel) is { IsOpen: true } channel)
        {
            try
            {
                // Acks have no reply; a round trip after them means the broker processed every one before
                // the close, so nothing acknowledged comes back.
                await channel.BasicQosAsync(0, _prefetch, global: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Closing anyway; an ack the broker did not see brings its message back (a duplicate, never a loss).
            }
        }

        await CloseAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            try
            {
                await OpenAsync(closed, stopping).ConfigureAwait(false);
                await closed.Task.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                RabbitMqLog.ConsumerRestartFailed(_logger, exception, _queue);
                await Task.Delay(_retryInterval, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (!stopping.IsCancellationRequested)
            {
                // The dead channel leaves the connection; a dead connection goes with it.
                await CloseAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task OpenAsync(TaskCompletionSource closed, CancellationToken stopping)
    {
        Volatile.Write(ref _closed, closed);
        if (_amqp is not { IsOpen: true })
        {
            await CloseAsync().ConfigureAwait(false);
            var amqp = await _connection.CreateConsumerConnectionAsync(stopping).ConfigureAwait(false);
            amqp.ConnectionShutdownAsync += (_, args) => Volatile.Read(ref _closed) is { } current ? OnClosed(current, args) : Task.CompletedTask;
            Volatile.Write(ref _amqp, amqp);
        }

        var channel = await _amqp!.CreateChannelAsync(cancellationToken: stopping).ConfigureAwait(false);
        Volatile.Write(ref _channel, channel);
        channel.ChannelShutdownAsync += (_, args) => OnClosed(closed, args);
        await channel.BasicQosAsync(0, _prefetch, global: false, stopping).ConfigureAwait(false);
        var incarnation = Incarnation;
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, args) => _received(channel, incarnation, args);
        consumer.UnregisteredAsync += (_, _) => OnCancelled(closed);
        Volatile.Write(ref _consumerTag, await channel.BasicConsumeAsync(_queue, autoAck: false, consumer, stopping).ConfigureAwait(false));
    }

    /// <summary>On the client's reader loop: only marks the loss and wakes the restart loop, never awaiting the broker.</summary>
    private Task OnClosed(TaskCompletionSource closed, ShutdownEventArgs args)
    {
        if (closed.TrySetResult())
        {
            Interlocked.Increment(ref _incarnation);

            // Logged before the restart is woken, so the line precedes anything the new channel delivers.
            if (Volatile.Read(ref _cancelling) == 0)
            {
                RabbitMqLog.ConsumerChannelClosed(_logger, _queue, _connection.Reason(args));
            }

            _lost();
        }

        return Task.CompletedTask;
    }

    /// <summary>The broker cancelled the consumer (its queue was deleted, say): the loop closes the channel and consumes again.</summary>
    private Task OnCancelled(TaskCompletionSource closed)
    {
        if (Volatile.Read(ref _cancelling) == 0 && closed.TrySetResult())
        {
            Interlocked.Increment(ref _incarnation);
            _lost();
            RabbitMqLog.ConsumerChannelClosed(_logger, _queue, "the broker cancelled the consumer");
        }

        return Task.CompletedTask;
    }

    private async Task CloseAsync()
    {
        Volatile.Write(ref _consumerTag, null);
        if (Interlocked.Exchange(ref _channel, null) is { } channel)
        {
            await DisposeQuietlyAsync(channel).ConfigureAwait(false);
        }

        if (_amqp is { IsOpen: false } || _stopping.IsCancellationRequested)
        {
            if (Interlocked.Exchange(ref _amqp, null) is { } amqp)
            {
                await DisposeQuietlyAsync(amqp).ConfigureAwait(false);
            }
        }
    }

    private static async Task DisposeQuietlyAsync(IAsyncDisposable disposable)
    {
        try
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already closed by the broker; nothing left to give back.
        }
    }
}
