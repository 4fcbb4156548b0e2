// Builds and runs against the packed MessagingPatterns package, as a user's project would.
using System.Collections.Concurrent;
using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

const int Messages = 100;
var handled = new Handled();
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(handled);
var database = Path.Combine(Path.GetTempPath(), $"package-check-{Guid.NewGuid():N}.db");
builder.Services.AddInMemoryQueue<Greeting>("greetings").AddConsumer<GreetingConsumer>();
builder.Services.AddSqliteQueue<Greeting>("durable-greetings", options => options.DatabasePath = database)
    .AddConsumer<GreetingConsumer>();
var host = builder.Build();

await host.StartAsync();
// Half through the in-memory store, half through the durable one: both packages work as packages.
var inMemory = host.Services.GetRequiredKeyedService<IProducer<Greeting>>("greetings");
var durable = host.Services.GetRequiredKeyedService<IProducer<Greeting>>("durable-greetings");
for (var i = 0; i < Messages; i++)
{
    var producer = i % 2 == 0 ? inMemory : durable;
    await producer.PublishAsync(new Message<Greeting>(new Greeting($"hello {i}"), $"greeting-{i}"));
}

await handled.All.Task.WaitAsync(TimeSpan.FromSeconds(30));
await host.StopAsync();
host.Dispose();
foreach (var suffix in new[] { "", "-wal", "-shm" })
{
    File.Delete(database + suffix);
}

var lost = Messages - handled.Ids.Count;
Console.WriteLine($"package check: published {Messages}, handled {handled.Ids.Count}, lost {lost}");
return lost == 0 ? 0 : 1;

/// <summary>The message.</summary>
public sealed record Greeting(string Text);

/// <summary>Which messages were handled.</summary>
public sealed class Handled
{
    public ConcurrentDictionary<string, bool> Ids { get; } = new();

    public TaskCompletionSource All { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The handler.</summary>
public sealed class GreetingConsumer(Handled handled) : IConsumer<Greeting>
{
    public Task ConsumeAsync(MessageContext<Greeting> context, CancellationToken cancellationToken)
    {
        if (handled.Ids.TryAdd(context.MessageId, true) && handled.Ids.Count == 100)
        {
            handled.All.TrySetResult();
        }

        return Task.CompletedTask;
    }
}
