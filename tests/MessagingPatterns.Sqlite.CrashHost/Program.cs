using System.Globalization;
using MessagingPatterns;
using MessagingPatterns.Sqlite;
using MessagingPatterns.Sqlite.CrashHost;

// Usage: CrashHost <database> <ledger> <mode> <firstNumber> <count> <leaseMilliseconds>
//   work    publishes <count> messages numbered from <firstNumber> while consuming; runs until killed
//           or until standard input closes
//   consume consumes until standard input closes, then finishes its acks and exits
//   drain   consumes until the queue holds nothing ready, delayed or in flight, then exits
if (args.Length != 6)
{
    Console.Error.WriteLine("usage: CrashHost <database> <ledger> <work|consume|drain> <firstNumber> <count> <leaseMilliseconds>");
    return 2;
}

var databasePath = args[0];
var mode = args[2];
var firstNumber = long.Parse(args[3], CultureInfo.InvariantCulture);
var count = int.Parse(args[4], CultureInfo.InvariantCulture);
var lease = TimeSpan.FromMilliseconds(int.Parse(args[5], CultureInfo.InvariantCulture));

using var ledger = new Ledger(args[1]);
var options = new SqliteStoreOptions { DatabasePath = databasePath, PollInterval = TimeSpan.FromMilliseconds(50) };
await using var store = SqliteMessageStore.Create<CrashMessage>("crash", options);
using var stop = new CancellationTokenSource();
using var settled = new SemaphoreSlim(0);
Console.Out.WriteLine("ready");

var stdinClosed = Task.Run(async () =>
{
    // The test closes standard input to ask for a clean stop.
    while (await Console.In.ReadLineAsync() is not null)
    {
    }
});

var tasks = new List<Task>();
if (mode == "work")
{
    tasks.AddRange(Enumerable.Range(0, 4).Select(publisher => PublishAsync(publisher, 4)));
}

tasks.AddRange(Enumerable.Range(0, 2).Select(_ => ConsumeAsync()));

if (mode == "drain")
{
    while (true)
    {
        var statistics = await store.GetStatisticsAsync();
        if (statistics.Ready + statistics.Delayed + statistics.InFlight == 0)
        {
            break;
        }

        // Messages leased by killed runs come back when their leases end and are then handled here:
        // look again after each batch this process settles.
        await Task.WhenAny(stdinClosed, settled.WaitAsync());
    }
}
else
{
    await stdinClosed;
}

await stop.CancelAsync();
await Task.WhenAll(tasks);
return 0;

async Task PublishAsync(int publisher, int publishers)
{
    // Every fifth publish of a publisher is a batch of three, so kills also hit batch transactions.
    var numbers = Enumerable.Range(0, count).Where(i => i % publishers == publisher).Select(i => firstNumber + i).ToArray();
    for (var i = 0; i < numbers.Length; i++)
    {
        if (i % 5 == 4 && i + 2 < numbers.Length)
        {
            var batch = numbers[i..(i + 3)].Select(n => new Message<CrashMessage>(new CrashMessage(n), Id(n))).ToArray();
            await store.EnqueueBatchAsync(batch);
            foreach (var message in batch)
            {
                ledger.PublishOk(message.Id);
            }

            i += 2;
        }
        else
        {
            await store.EnqueueAsync(new Message<CrashMessage>(new CrashMessage(numbers[i]), Id(numbers[i])));
            ledger.PublishOk(Id(numbers[i]));
        }
    }
}

async Task ConsumeAsync()
{
    var buffer = new Delivery<CrashMessage>[8];
    while (true)
    {
        int received;
        try
        {
            received = await store.ReceiveAsync(buffer, lease, stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var acks = new Task<bool>[received];
        for (var i = 0; i < received; i++)
        {
            ledger.Handled(buffer[i].Message.Id, buffer[i].DeliveryCount);
            acks[i] = store.AckAsync(buffer[i].Lease).AsTask();
        }

        await Task.WhenAll(acks);
        settled.Release();
    }
}

static string Id(long number) => string.Create(CultureInfo.InvariantCulture, $"c{number}");
