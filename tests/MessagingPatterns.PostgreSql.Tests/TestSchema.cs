namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>A schema of its own for one test, dropped afterwards, so tests running in parallel never share rows.</summary>
internal sealed class TestSchema : IAsyncDisposable
{
    public TestSchema()
    {
        PostgresServer.Require();
    }

    public string Name { get; } = PostgresServer.NewSchema();

    public PostgreSqlStoreOptions Options(PostgreSqlClock? clock = null) => new()
    {
        ConnectionString = PostgresServer.ConnectionString,
        Schema = Name,
        Clock = clock ?? PostgreSqlClock.Database,
        PollInterval = TimeSpan.FromSeconds(5),
    };

    public async ValueTask DisposeAsync() => await PostgresServer.DropSchemaAsync(Name);
}
