using System.ComponentModel.DataAnnotations;

namespace MessagingPatterns;

/// <summary>Options of the in-memory FIFO store.</summary>
public sealed class InMemoryQueueOptions
{
    /// <summary>
    /// The most messages the store holds (ready, delayed and in flight); a publish to a full store waits
    /// for room. <see langword="null"/> for no bound. Default: <see langword="null"/>.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int? Capacity { get; set; }
}
