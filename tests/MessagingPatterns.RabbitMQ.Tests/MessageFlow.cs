namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// A producer publishing numbered messages (retrying a failed publish, as an application would) and a
/// consumer acknowledging what it receives, both recorded in a <see cref="FlowLedger"/>, while a test
/// breaks the broker underneath.
/// </summary>
internal sealed class MessageFlow : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private readonly Task _consumer;
    private readonly int _count;
    private readonly TaskCompletionSource _allPublished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MessageFlow(IMessageStore<TestMessage> producer, IMessageStore<TestMessage> consumer, int count)
    {
        _count = count;
        _producer = Task.Run(() => ProduceAsync(producer));
        _consumer = Task.Run(() => ConsumeAsync(consumer));
    }

    public FlowLedger Ledger { get; } = new();

    public Task AllPublished => _allPublished.Task;

    /// <summary>Completes once at least <paramref name="accepted"/> publishes were accepted.</summary>
    public async Task WaitForAcceptedAsync(int accepted, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Ledger.Accepted < accepted)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Only {Ledger}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Completes once every accepted message was delivered (after all were published).</summary>
    public async Task WaitForAllDeliveredAsync(TimeSpan timeout)
    {
        await AllPublished.WaitAsync(timeout);
        var deadline = DateTime.UtcNow + timeout;
        while (!Ledger.AllAcceptedDelivered)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Not every accepted message was delivered: {Ledger}; lost so far {string.Join(",", Ledger.Lost.Take(20))}.");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_producer, _consumer).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task ProduceAsync(IMessageStore<TestMessage> store)
    {
        for (var number = 0L; number < _count && !_stop.IsCancellationRequested; number++)
        {
            while (!_stop.IsCancellationRequested)
            {
                Ledger.PublishInvoked(number);
                try
                {
                    await store.EnqueueAsync(new Message<TestMessage>(new TestMessage(number), $"n-{number}"), _stop.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                    Ledger.PublishAccepted(number);
                    break;
                }
                catch (Exception) when (!_stop.IsCancellationRequested)
                {
                    // Not confirmed: the outcome is unknown, so publish the same id again.
                    Ledger.PublishFailed();
                    await Task.Delay(50);
                }
            }
        }

        _allPublished.TrySetResult();
    }

    private async Task ConsumeAsync(IMessageStore<TestMessage> store)
    {
        var buffer = new Delivery<TestMessage>[16];
        while (!_stop.IsCancellationRequested)
        {
            int count;
            try
            {
                count = await store.ReceiveAsync(buffer, TimeSpan.FromSeconds(30), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                // The broker is away: the store reconnects by itself; keep asking.
                await Task.Delay(50);
                continue;
            }

            for (var i = 0; i < count; i++)
            {
                Ledger.Delivered(buffer[i].Message.Body.Number);
                try
                {
                    await store.AckAsync(buffer[i].Lease);
                }
                catch (Exception)
                {
                    // Its channel is gone: the broker delivers it again.
                }
            }
        }
    }
}
