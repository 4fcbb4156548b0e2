using MessagingPatterns;
using MessagingPatterns.PostgreSql.CrashHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: CrashHost <schema> <ledger> <leaseMilliseconds>, with MESSAGING_POSTGRES_CONNECTION in the environment
// (so no password shows in the process list). Consumes queue "crash" with the library's consumer runtime, writing
// each handling to the ledger before the runtime acks it, until standard input closes or the process is killed.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: CrashHost <schema> <ledger> <leaseMilliseconds>");
    return 2;
}

var connectionString = Environment.GetEnvironmentVariable("MESSAGING_POSTGRES_CONNECTION");
using var ledger = new Ledger(args[1]);
var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(ledger);
builder.Services.AddPostgreSqlQueue<CrashMessage>("crash", options =>
    {
        options.ConnectionString = connectionString;
        options.Schema = args[0];
        options.PollInterval = TimeSpan.FromMilliseconds(200);
    })
    .AddConsumer<LedgerConsumer>(options =>
    {
        options.Concurrency = 4;
        options.PrefetchCount = 4;
        options.LeaseDuration = TimeSpan.FromMilliseconds(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        options.MaxDeliveryAttempts = 1_000;
        options.ShutdownTimeout = TimeSpan.FromSeconds(10);
    });

using var host = builder.Build();
await host.StartAsync();
Console.Out.WriteLine("ready");

// The test closes standard input to ask for a clean stop.
while (await Console.In.ReadLineAsync() is not null)
{
}

await host.StopAsync();
return 0;
