namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>The shipped <c>schema.sql</c> is what the store creates, so hand provisioning cannot drift from it.</summary>
public sealed class SchemaScriptTests
{
    /// <summary>The package's schema.sql, without its leading comment.</summary>
    public static string ShippedScript()
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "schema.sql"));
        return string.Join('\n', lines.SkipWhile(line => line.StartsWith("--", StringComparison.Ordinal) || line.Length == 0)).Trim();
    }

    [Fact]
    public void ShippedScript_IsTheSchemaTheStoreCreates() =>
        ShippedScript().Should().Be(PostgreSqlSchema.Script(PostgreSqlStoreOptions.DefaultSchema).ReplaceLineEndings("\n").Trim());

    [Theory]
    [InlineData("Messaging")]
    [InlineData("messaging\"; DROP TABLE x; --")]
    [InlineData("1abc")]
    [InlineData("")]
    public void Options_WithASchemaOffTheAllowList_FailValidationNamingSchema(string schema)
    {
        var options = new PostgreSqlStoreOptions { ConnectionString = PostgresServer.DefaultConnectionString, Schema = schema };

        var act = () => PostgreSqlMessageStore.Create<int>("orders", options);

        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*Schema*");
    }

    [Fact]
    public void Create_WithoutAConnectionString_FailsValidationNamingIt()
    {
        var act = () => PostgreSqlMessageStore.Create<int>("orders", new PostgreSqlStoreOptions());

        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*ConnectionString*");
    }

    [Fact]
    public void Create_WithAQueueNameOffTheAllowList_ThrowsNamingTheParameter()
    {
        var act = () => PostgreSqlMessageStore.Create<int>("orders'; --", new PostgreSqlStoreOptions { ConnectionString = PostgresServer.DefaultConnectionString });

        act.Should().Throw<ArgumentException>().WithParameterName("name");
    }
}
