using System.Text.Json.Serialization;

namespace MessagingPatterns.PostgreSql;

/// <summary>Source-generated JSON contract for stored headers, so the store itself needs no reflection.</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class HeadersJsonContext : JsonSerializerContext
{
}
