using MessagingPatterns.Testing;

namespace MessagingPatterns.Tests.Testing;

public sealed class StoreCapabilitiesTableTests
{
    [Fact]
    public void Row_StatesEachPromiseInTheHeadersOrder()
    {
        var capabilities = new StoreCapabilities
        {
            DurableAcrossReopen = true,
            StrictFifoUnderRedelivery = false,
            ExactStatistics = false,
            ReceivesEveryReadyMessage = false,
            DelayPrecision = TimeSpan.FromSeconds(2),
            PriorityLevels = 10,
            Capacity = 100,
            ReportsOldestReadyAge = false,
        };

        StoreCapabilitiesTable.Row("a broker", capabilities).Should().Be("| a broker | yes | no | no | no | within 2 s | yes | yes | no |");
        StoreCapabilitiesTable.Row("memory", new StoreCapabilities { DelayPrecision = TimeSpan.FromMilliseconds(250) })
            .Should().Be("| memory | no | yes | yes | yes | within 250 ms | no | no | yes |");
        StoreCapabilitiesTable.Header[0].Split('|').Length.Should().Be(StoreCapabilitiesTable.Row("x", new()).Split('|').Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a | b")]
    [InlineData("two\nlines")]
    public void Row_WithANameThatCannotBeACell_NamesTheParameter(string store)
    {
        var act = () => StoreCapabilitiesTable.Row(store, new StoreCapabilities());

        act.Should().Throw<ArgumentException>().WithParameterName("store");
    }
}
