using System.Buffers;
using System.Text;
using System.Text.Json.Serialization;
using MessagingPatterns.Testing;
using MessagingPatterns.Serialization;

namespace MessagingPatterns.Sqlite.Tests;

public sealed partial class JsonMessageSerializerTests
{
    [Fact]
    public void Serialize_WithSourceGeneratedContract_RoundTrips()
    {
        var serializer = new JsonMessageSerializer<ConformanceMessage>(TestJsonContext.Default.ConformanceMessage);
        var buffer = new ArrayBufferWriter<byte>();

        serializer.Serialize(new ConformanceMessage(4, "four"), buffer);

        serializer.Deserialize(buffer.WrittenSpan).Should().Be(new ConformanceMessage(4, "four"));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{not json")]
    [InlineData("\"a string\"")]
    public void Deserialize_InvalidPayload_ThrowsMessageSerializationException(string payload)
    {
        var serializer = new JsonMessageSerializer<ConformanceMessage>();

        var act = () => serializer.Deserialize(Encoding.UTF8.GetBytes(payload));

        act.Should().Throw<MessageSerializationException>().Which.Message.Should().Contain(nameof(ConformanceMessage));
    }

    [Fact]
    public void Deserialize_PayloadNamingAnotherType_IgnoresTheTypeName()
    {
        var serializer = new JsonMessageSerializer<ConformanceMessage>();

        var body = serializer.Deserialize("""{"$type":"System.IO.FileInfo","number":3}"""u8);

        body.Should().Be(new ConformanceMessage(3));
    }

    [JsonSerializable(typeof(ConformanceMessage))]
    private sealed partial class TestJsonContext : JsonSerializerContext
    {
    }
}
