namespace MessagingPatterns;

/// <summary>
/// A publish to a full load-leveling buffer was refused: at once with <see cref="FullMode.Reject"/>, or after its
/// publish timeout with <see cref="FullMode.Wait"/>. The message was not accepted; publishing it again later is safe.
/// </summary>
public sealed class QueueFullException : InvalidOperationException
{
    /// <summary>Creates the exception with a default message.</summary>
    public QueueFullException()
        : base("The queue is full.")
    {
        QueueName = string.Empty;
    }

    /// <summary>Creates the exception with the given message.</summary>
    /// <param name="message">The message.</param>
    public QueueFullException(string message)
        : base(message)
    {
        QueueName = string.Empty;
    }

    /// <summary>Creates the exception with the given message and inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause, e.g. the <see cref="TimeoutException"/> of a publish that waited too long.</param>
    public QueueFullException(string message, Exception? innerException)
        : base(message, innerException)
    {
        QueueName = string.Empty;
    }

    /// <summary>Creates the exception for a queue and its capacity.</summary>
    /// <param name="queueName">The full queue's name.</param>
    /// <param name="capacity">The queue's capacity in messages.</param>
    /// <param name="detail">Why the publish was refused, appended to the message.</param>
    /// <param name="innerException">The cause, if any.</param>
    public QueueFullException(string queueName, int capacity, string detail, Exception? innerException = null)
        : base($"Queue '{queueName}' is full (capacity {capacity} messages): {detail}", innerException)
    {
        QueueName = queueName;
        Capacity = capacity;
    }

    /// <summary>The full queue's name; empty when not given.</summary>
    public string QueueName { get; }

    /// <summary>The queue's capacity in messages; 0 when not given.</summary>
    public int Capacity { get; }
}
