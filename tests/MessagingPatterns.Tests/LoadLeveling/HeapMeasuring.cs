namespace MessagingPatterns.Tests.LoadLeveling;

/// <summary>Tests that measure the managed heap run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(HeapMeasuring), DisableParallelization = true)]
public sealed class HeapMeasuring;
