using Microsoft.Extensions.Time.Testing;

namespace MessagingPatterns.Tests.Priority;

/// <summary>Helpers for driving the in-memory priority stores synchronously under fake time.</summary>
internal static class PriorityTestKit
{
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static FakeTimeProvider NewTime() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Publishes to an unbounded in-memory store, which accepts at once.</summary>
    public static void Publish<T>(IMessageStore<T> store, Message<T> message)
    {
        var publish = store.EnqueueAsync(message);
        publish.IsCompletedSuccessfully.Should().BeTrue("an unbounded in-memory store accepts at once");
    }

    /// <summary>Receives one ready message without waiting, or <see langword="null"/> when none is ready.</summary>
    public static Delivery<T>? TryReceive<T>(IMessageStore<T> store)
    {
        if (Sync(store.GetStatisticsAsync()).Ready == 0)
        {
            return null;
        }

        var buffer = new Delivery<T>[1];
        var receive = store.ReceiveAsync(buffer, Lease);
        receive.IsCompletedSuccessfully.Should().BeTrue("a message is ready");
        return buffer[0];
    }

    /// <summary>Receives one ready message and acknowledges it.</summary>
    public static Message<T> TakeAndAck<T>(IMessageStore<T> store)
    {
        var delivery = TryReceive(store) ?? throw new InvalidOperationException("Expected a ready message.");
        Sync(store.AckAsync(delivery.Lease)).Should().BeTrue();
        return delivery.Message;
    }

    /// <summary>The result of an in-memory store call that completes at once.</summary>
    public static T Sync<T>(ValueTask<T> call)
    {
        call.IsCompletedSuccessfully.Should().BeTrue("in-memory store calls that need no wait complete at once");
        return call.Result;
    }

    public static IPriorityMessageStore<int> Create(string kind, int levels, TimeProvider time, TimeSpan? aging = null) => kind switch
    {
        "priority" => MessageStore.CreatePriority<int>("prio", new PriorityQueueOptions { Levels = levels, AgingMaxWait = aging }, time),
        "strict" => MessageStore.CreateMultiQueue<int>("multi", new MultiQueueOptions { Levels = levels }, time),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown store kind."),
    };
}
