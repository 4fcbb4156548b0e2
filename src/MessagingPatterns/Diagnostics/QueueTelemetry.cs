using System.Diagnostics;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// One queue's client telemetry: records on <see cref="MessagingInstruments"/> with the queue's conventional
/// attributes (<c>messaging.system</c>, <c>messaging.destination.name</c>, the operation's name and type, and
/// <c>error.type</c> when it failed). Every method costs a flag check when nobody listens.
/// </summary>
internal sealed class QueueTelemetry
{
    private readonly MessagingInstruments _instruments;
    private readonly TimeProvider _time;

    /// <param name="instruments">The instruments to record on.</param>
    /// <param name="system">The <c>messaging.system</c> of the queue's store.</param>
    /// <param name="queue">The queue's name.</param>
    /// <param name="time">The clock durations are measured with.</param>
    public QueueTelemetry(MessagingInstruments instruments, string system, string queue, TimeProvider time)
    {
        _instruments = instruments;
        _time = time;
        System = system;
        Queue = queue;
    }

    /// <summary>The <c>messaging.system</c> of the queue's store.</summary>
    public string System { get; }

    /// <summary>The queue's name, the <c>messaging.destination.name</c>.</summary>
    public string Queue { get; }

    /// <summary>The telemetry of <paramref name="store"/>'s queue, on the shared instruments unless others are given.</summary>
    public static QueueTelemetry For<TMessage>(IMessageStore<TMessage> store, MessagingInstruments? instruments = null, TimeProvider? time = null) =>
        new(instruments ?? MessagingInstruments.Shared, store.MessagingSystem, store.Name, time ?? TimeProvider.System);

    /// <summary>A timestamp to time a publish or a settlement from, or 0 when nobody listens to their durations.</summary>
    public long StartOperation() => _instruments.OperationDuration.Enabled ? _time.GetTimestamp() : 0;

    /// <summary>A timestamp to time a delivery's handling from, or 0 when nobody listens to handling times.</summary>
    public long StartProcess() => _instruments.ProcessDuration.Enabled || _instruments.Latency.Enabled ? _time.GetTimestamp() : 0;

    /// <summary>Counts <paramref name="count"/> messages a publish attempted, failed when <paramref name="error"/> is set.</summary>
    public void Sent(int count, long startedAt, Exception? error)
    {
        var tags = Tags(MessagingAttributes.Send, MessagingAttributes.Send, error is null ? null : MessagingAttributes.ErrorTypeOf(error));
        if (_instruments.Sent.Enabled)
        {
            _instruments.Sent.Add(count, tags);
        }

        Record(startedAt, tags);
    }

    /// <summary>Counts one delivery handed to the application's handler.</summary>
    public void Consumed()
    {
        if (_instruments.Consumed.Enabled)
        {
            _instruments.Consumed.Add(1, Tags(MessagingAttributes.Receive, MessagingAttributes.Receive, null));
        }
    }

    /// <summary>Times one settlement: <paramref name="operation"/> is <c>ack</c>, <c>release</c> or <c>dead_letter</c>.</summary>
    public void Settled(string operation, long startedAt, string? errorType) => Record(startedAt, Tags(operation, MessagingAttributes.Settle, errorType));

    /// <summary>Records one delivery's handling time (and its message's time since acceptance), failed when <paramref name="error"/> is set.</summary>
    public void Processed<TMessage>(Message<TMessage> message, long startedAt, Exception? error)
    {
        if (startedAt == 0)
        {
            return;
        }

        if (_instruments.ProcessDuration.Enabled)
        {
            _instruments.ProcessDuration.Record(_time.GetElapsedTime(startedAt).TotalSeconds, Tags(MessagingAttributes.Process, MessagingAttributes.Process, error is null ? null : MessagingAttributes.ErrorTypeOf(error)));
        }

        if (_instruments.Latency.Enabled && message.EnqueuedAt != default)
        {
            _instruments.Latency.Record((_time.GetUtcNow() - message.EnqueuedAt).TotalSeconds, Own(message.Priority));
        }
    }

    /// <summary>Counts a message the runtime dead-lettered.</summary>
    public void DeadLettered(int priority)
    {
        if (_instruments.DeadLettered.Enabled)
        {
            _instruments.DeadLettered.Add(1, Own(priority));
        }
    }

    /// <summary>Counts a settlement refused because its lease had ended.</summary>
    public void LeaseLost()
    {
        if (_instruments.LeaseLost.Enabled)
        {
            _instruments.LeaseLost.Add(1, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, Queue));
        }
    }

    /// <summary>Counts a handler attempt given up on.</summary>
    public void HandlerAbandoned()
    {
        if (_instruments.HandlerAbandoned.Enabled)
        {
            _instruments.HandlerAbandoned.Add(1, new KeyValuePair<string, object?>(MessagingAttributes.DestinationName, Queue));
        }
    }

    private void Record(long startedAt, in TagList tags)
    {
        if (startedAt != 0 && _instruments.OperationDuration.Enabled)
        {
            _instruments.OperationDuration.Record(_time.GetElapsedTime(startedAt).TotalSeconds, tags);
        }
    }

    private TagList Tags(string operationName, string operationType, string? errorType)
    {
        var tags = new TagList
        {
            { MessagingAttributes.System, System },
            { MessagingAttributes.DestinationName, Queue },
            { MessagingAttributes.OperationName, operationName },
            { MessagingAttributes.OperationType, operationType },
        };
        if (errorType is not null)
        {
            tags.Add(MessagingAttributes.ErrorType, errorType);
        }

        return tags;
    }

    private TagList Own(int priority) => new() { { MessagingAttributes.DestinationName, Queue }, { MessagingAttributes.Priority, priority } };
}
