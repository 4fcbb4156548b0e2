using System.Text.Json.Serialization;

namespace MessagingPatterns.Sqlite;

/// <summary>
/// Source-generated JSON contracts for stored headers and for id lists bound as one parameter, so the
/// store itself needs no reflection.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(long[]))]
internal sealed partial class HeadersJsonContext : JsonSerializerContext
{
}
