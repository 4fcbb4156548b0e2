using System.Globalization;

namespace MessagingPatterns.Testing;

/// <summary>
/// Writes <see cref="StoreCapabilities"/> as a Markdown table, so a store's documentation can state its promises
/// in the words the kit checks: a conformance class that names its row in
/// <see cref="MessageStoreConformanceTests.CapabilitiesTableRow"/> fails when the document's row says otherwise.
/// </summary>
public static class StoreCapabilitiesTable
{
    /// <summary>The table's header and separator lines.</summary>
    public static IReadOnlyList<string> Header { get; } =
    [
        "| store | durable across reopen | FIFO under redelivery | exact statistics | a receive takes every ready message | delay precision | priority order | bounded | oldest ready age |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ];

    /// <summary>The table row that states <paramref name="capabilities"/> for the store named <paramref name="store"/>.</summary>
    /// <param name="store">The store's name as the first cell shows it.</param>
    /// <param name="capabilities">What the store promises.</param>
    /// <returns>One Markdown table line.</returns>
    /// <exception cref="ArgumentException"><paramref name="store"/> is empty or holds a <c>|</c> or a line break.</exception>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static string Row(string store, StoreCapabilities capabilities)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(store);
        ArgumentNullException.ThrowIfNull(capabilities);
        if (store.AsSpan().IndexOfAny('|', '\r', '\n') >= 0)
        {
            throw new ArgumentException("A store's name in the table cannot hold '|' or a line break.", nameof(store));
        }

        string[] cells =
        [
            store,
            YesNo(capabilities.DurableAcrossReopen),
            YesNo(capabilities.StrictFifoUnderRedelivery),
            YesNo(capabilities.ExactStatistics),
            YesNo(capabilities.ReceivesEveryReadyMessage),
            Precision(capabilities.DelayPrecision),
            capabilities.PriorityLevels > 1 ? "yes" : "no",
            YesNo(capabilities.Capacity is not null),
            YesNo(capabilities.ReportsOldestReadyAge),
        ];
        return "| " + string.Join(" | ", cells) + " |";
    }

    private static string YesNo(bool value) => value ? "yes" : "no";

    private static string Precision(TimeSpan precision) => precision == TimeSpan.Zero
        ? "exact"
        : precision.Ticks % TimeSpan.TicksPerSecond == 0
            ? string.Create(CultureInfo.InvariantCulture, $"within {precision.TotalSeconds} s")
            : string.Create(CultureInfo.InvariantCulture, $"within {precision.TotalMilliseconds} ms");
}
