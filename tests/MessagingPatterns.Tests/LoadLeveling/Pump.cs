namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>Deterministic consuming under fake time: take what the store gives without waiting, and settle it.</summary>
internal static class Pump
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Receives and acknowledges messages until a receive would wait (for a permit or a message); that receive is
    /// cancelled, which leases nothing. Returns the ids handled, in order.
    /// </summary>
    public static async Task<int> DrainAvailableAsync<T>(IMessageStore<T> store, List<string>? handled = null, int bufferSize = 1)
    {
        var buffer = new Delivery<T>[bufferSize];
        var total = 0;
        while (true)
        {
            using var noWait = new CancellationTokenSource();
            var receive = store.ReceiveAsync(buffer, Lease, noWait.Token).AsTask();
            if (!receive.IsCompleted)
            {
                await noWait.CancelAsync();
            }

            int received;
            try
            {
                received = await receive.WaitAsync(Patience);
            }
            catch (OperationCanceledException)
            {
                return total;
            }

            for (var i = 0; i < received; i++)
            {
                handled?.Add(buffer[i].Message.Id);
                (await store.AckAsync(buffer[i].Lease).AsTask().WaitAsync(Patience)).Should().BeTrue();
            }

            total += received;
        }
    }
}
