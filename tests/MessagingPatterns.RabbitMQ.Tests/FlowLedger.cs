using System.Collections.Concurrent;

namespace MessagingPatterns.RabbitMQ.Tests;

/// <summary>
/// The ledger oracle: what producers were told and what consumers saw, per message id. A message whose
/// publish returned must be delivered; a delivery of an id never published is unexpected.
/// </summary>
internal sealed class FlowLedger
{
    private readonly ConcurrentDictionary<long, bool> _invoked = new();
    private readonly ConcurrentDictionary<long, bool> _accepted = new();
    private readonly ConcurrentDictionary<long, int> _delivered = new();
    private int _failedPublishes;
    private int _deliveries;

    public int Accepted => _accepted.Count;

    public int FailedPublishes => Volatile.Read(ref _failedPublishes);

    public int Deliveries => Volatile.Read(ref _deliveries);

    public void PublishInvoked(long number) => _invoked[number] = true;

    public void PublishAccepted(long number) => _accepted[number] = true;

    public void PublishFailed() => Interlocked.Increment(ref _failedPublishes);

    public void Delivered(long number)
    {
        _delivered.AddOrUpdate(number, 1, static (_, count) => count + 1);
        Interlocked.Increment(ref _deliveries);
    }

    public bool AllAcceptedDelivered => _accepted.Keys.All(_delivered.ContainsKey);

    /// <summary>Accepted but never delivered.</summary>
    public long[] Lost => _accepted.Keys.Where(number => !_delivered.ContainsKey(number)).Order().ToArray();

    /// <summary>Delivered without ever being published.</summary>
    public long[] Unexpected => _delivered.Keys.Where(number => !_invoked.ContainsKey(number)).Order().ToArray();

    public int Duplicates => _delivered.Values.Sum(count => count - 1);

    public override string ToString() =>
        $"accepted {Accepted}, failed publishes {FailedPublishes}, deliveries {Deliveries}, lost {Lost.Length}, unexpected {Unexpected.Length}, duplicates {Duplicates}";
}
