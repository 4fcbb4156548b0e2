using System.Runtime.InteropServices;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// A buffer's two depth counters, each on its own cache line: publishers write one and consumers the other, and on a
/// shared line every publish and every settle would wait for the other side's core. (Not nested in the generic
/// buffer: generic types cannot have an explicit layout.) An object is only 8-byte aligned, so the lines fall anywhere:
/// 64 bytes of padding before <see cref="Admitted"/> and 120 between <see cref="ReleasedSeen"/> and
/// <see cref="Released"/> keep the two sides apart whatever the alignment.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct DepthCounters
{
    /// <summary>Messages admitted (publishes, moves from overflow, redrives), taken back when a publish fails.</summary>
    [FieldOffset(64)]
    public long Admitted;

    /// <summary>
    /// A copy of <see cref="Released"/> as publishers last read it, on their own line: released only grows, so an old
    /// copy overstates the depth, which is safe to admit on, and a publish need not read the consumers' line.
    /// </summary>
    [FieldOffset(72)]
    public long ReleasedSeen;

    /// <summary>Messages acknowledged, dead-lettered or dropped through the buffer.</summary>
    [FieldOffset(192)]
    public long Released;
}
