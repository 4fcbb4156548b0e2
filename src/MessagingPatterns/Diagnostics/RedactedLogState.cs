using System.Collections;

namespace MessagingPatterns.Diagnostics;

/// <summary>
/// A log entry's state with the logged exception's original type added as <c>OriginalExceptionType</c>: with a
/// redaction hook set, the exception a sink sees is a <see cref="RedactedException"/>, and structured sinks report
/// that type, so alerts keyed on the original type read it from here.
/// </summary>
/// <typeparam name="TState">The state the entry was logged with.</typeparam>
internal sealed class RedactedLogState<TState>(TState state, string originalType) : IReadOnlyList<KeyValuePair<string, object?>>
{
    /// <summary>The name of the property that holds the original exception's full type name.</summary>
    public const string OriginalTypeKey = "OriginalExceptionType";

    // Read once: a source-generated state is a struct, boxed on every cast.
    private readonly IReadOnlyList<KeyValuePair<string, object?>> _properties = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];

    public TState State { get; } = state;

    public int Count => _properties.Count + 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == _properties.Count ? new(OriginalTypeKey, originalType) : _properties[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The entry's text, as the original state's formatter writes it.</summary>
    public override string? ToString() => State?.ToString();
}
