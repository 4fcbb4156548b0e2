namespace MessagingPatterns.Tests.Priority;

/// <summary>Tests that time real handlers run alone, so the other tests of the assembly do not crowd their measurements.</summary>
[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;
