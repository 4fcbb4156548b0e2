using System.Globalization;
using MessagingPatterns;
using MessagingPatterns.RabbitMQ;
using MessagingPatterns.RabbitMQ.CrashHost;

// Usage: CrashHost <amqp-uri> <queue> <prefetch>
// Consumes with two receivers until standard input closes. Prints "ready" once consuming, then one line
// "<id> <deliveryCount>" per delivery, written before its ack, so a killed run's output lists every
// message it may have handled.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: CrashHost <amqp-uri> <queue> <prefetch>");
    return 2;
}

var options = new RabbitMqStoreOptions
{
    ConnectionUri = args[0],
    PrefetchCount = int.Parse(args[2], CultureInfo.InvariantCulture),
};
await using var store = RabbitMqMessageStore.Create<CrashMessage>(args[1], options);
using var stop = new CancellationTokenSource();
var output = TextWriter.Synchronized(Console.Out);

var stdinClosed = Task.Run(async () =>
{
    // The test closes standard input to ask for a clean stop.
    while (await Console.In.ReadLineAsync() is not null)
    {
    }
});

var consumers = Enumerable.Range(0, 2).Select(_ => ConsumeAsync()).ToArray();
output.WriteLine("ready");
await stdinClosed;
await stop.CancelAsync();
await Task.WhenAll(consumers);
return 0;

async Task ConsumeAsync()
{
    var buffer = new Delivery<CrashMessage>[8];
    while (true)
    {
        int received;
        try
        {
            received = await store.ReceiveAsync(buffer, TimeSpan.FromSeconds(30), stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        for (var i = 0; i < received; i++)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{buffer[i].Message.Id} {buffer[i].DeliveryCount}"));
            await store.AckAsync(buffer[i].Lease);
        }
    }
}
