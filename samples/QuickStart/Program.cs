using MessagingPatterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder();
builder.Services.AddSingleton<HandledOrders>();
builder.Services.AddInMemoryQueue<Order>("orders")
    .AddConsumer<OrderConsumer>(options =>
    {
        options.Concurrency = 8;          // competing workers in this process
        options.MaxDeliveryAttempts = 5;  // then dead-letter, with the exception as the reason
    });
using var host = builder.Build();
await host.StartAsync();

var producer = host.Services.GetRequiredKeyedService<IProducer<Order>>("orders");
for (var i = 1; i <= 100; i++)
{
    await producer.PublishAsync(new Order(i));   // completes once the store has accepted it
}

var handled = host.Services.GetRequiredService<HandledOrders>();
await handled.WaitForAsync(100).WaitAsync(TimeSpan.FromSeconds(30));
await host.StopAsync();                          // drains running handlers, releases the rest
Console.WriteLine($"published 100, handled {handled.Count}, lost {100 - handled.Count}");

public sealed record Order(int Number);

public sealed class OrderConsumer(HandledOrders handled) : IConsumer<Order>
{
    public Task ConsumeAsync(MessageContext<Order> context, CancellationToken cancellationToken)
    {
        // Return: acknowledged. Throw: retried, then dead-lettered. Or settle explicitly:
        // context.RetryAfter(TimeSpan.FromSeconds(30)) or context.DeadLetter("reason").
        handled.Add();
        return Task.CompletedTask;
    }
}

public sealed class HandledOrders
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;
    private int _expected = int.MaxValue;

    public int Count => Volatile.Read(ref _count);

    public void Add()
    {
        if (Interlocked.Increment(ref _count) >= Volatile.Read(ref _expected)) _all.TrySetResult();
    }

    public Task WaitForAsync(int expected)
    {
        Volatile.Write(ref _expected, expected);
        if (Count >= expected) _all.TrySetResult();
        return _all.Task;
    }
}
