using Microsoft.Extensions.Logging;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>Stores on one fresh queue, disposed and the queue deleted at the end of a test.</summary>
internal sealed class StoreScope : IAsyncDisposable
{
    private readonly List<IMessageStore<TestMessage>> _stores = [];

    public StoreScope(string prefix, string? uri = null)
    {
        RabbitMqBroker.RequireOrSkip();
        Name = RabbitMqBroker.UniqueName(prefix);
        Uri = uri ?? RabbitMqBroker.Uri;
    }

    public string Name { get; }

    public string Uri { get; }

    public IMessageStore<TestMessage> Create(
        int prefetch = 64, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, int maxPriority = 9, Func<string, string>? redact = null)
    {
        var options = RabbitMqBroker.Options(prefetch);
        options.ConnectionUri = Uri;
        options.MaxPriority = maxPriority;
        options.Redact = redact;
        var store = RabbitMqMessageStore.Create<TestMessage>(Name, options, timeProvider: time, loggerFactory: loggerFactory);
        _stores.Add(store);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        try
        {
            await RabbitMqBroker.DeleteQueuesAsync(Name, Uri);
        }
        catch (Exception)
        {
            // The broker of a restart test may be gone already.
        }
    }
}
