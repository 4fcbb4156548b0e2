// The samples' --store switch: the same sample runs over another store by changing only the registration.
//   --store inmemory   (default) the in-process store
//   --store sqlite     a SQLite file in the temp folder, deleted at the end
//   --store postgres   PostgreSQL at MESSAGING_POSTGRES_CONNECTION (default: the server `scripts/brokers.sh start postgres`
//                      starts), in a schema of the run's own, dropped at the end
//   --store rabbitmq   RabbitMQ at MESSAGING_RABBITMQ_URI (default: the broker `scripts/brokers.sh start rabbitmq` starts);
//                      the run's queues (and their dead-letter queues) are deleted before first use and at the end
// Adding a store: its name in s_names, and a case in each switch below.
using MessagingPatterns.PostgreSql;
using MessagingPatterns.RabbitMQ;
using MessagingPatterns.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;

namespace MessagingPatterns.Samples;

public static class SampleStores
{
    private const string DefaultPostgres = "Host=127.0.0.1;Port=55432;Username=messaging;Password=messaging;Database=messaging";
    private const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:55672/";

    private static readonly string s_sqlitePath = Path.Combine(Path.GetTempPath(), $"messaging-sample-{Environment.ProcessId}.db");
    private static readonly string s_postgresSchema = $"sample_{Environment.ProcessId}";

    private static readonly string[] s_names = ["inmemory", "sqlite", "postgres", "rabbitmq"];

    // The RabbitMQ queues this run uses: the broker keeps queues by name across runs, so each is deleted first and last.
    private static readonly List<string> s_rabbitQueues = [];

    /// <summary>The store named by --store, or "inmemory".</summary>
    public static string Selected(string[] args)
    {
        var at = Array.IndexOf(args, "--store");
        var name = at >= 0 && at + 1 < args.Length ? args[at + 1] : "inmemory";
        return s_names.Contains(name, StringComparer.OrdinalIgnoreCase)
            ? name.ToLowerInvariant()
            : throw new ArgumentException($"Unknown --store '{name}'; use one of: {string.Join(", ", s_names)}.", nameof(args));
    }

    /// <summary>Registers queue <paramref name="name"/> on the store named by --store.</summary>
    public static MessageQueueBuilder<T> AddSelectedQueue<T>(this IServiceCollection services, string name, string[] args) =>
        Selected(args) switch
        {
            "sqlite" => services.AddSqliteQueue<T>(name, options => options.DatabasePath = s_sqlitePath),
            "postgres" => services.AddPostgreSqlQueue<T>(name, ConfigurePostgres),
            "rabbitmq" => services.AddRabbitMqQueue<T>(FreshRabbitQueue(name), options => options.ConnectionUri = RabbitMqUri),
            _ => services.AddInMemoryQueue<T>(name),
        };

    /// <summary>Creates queue <paramref name="name"/> on the store named by --store, outside DI.</summary>
    public static IMessageStore<T> Create<T>(string name, string[] args) =>
        Selected(args) switch
        {
            "sqlite" => SqliteMessageStore.Create<T>(name, new SqliteStoreOptions { DatabasePath = s_sqlitePath }),
            "postgres" => PostgreSqlMessageStore.Create<T>(name, Configured(new PostgreSqlStoreOptions())),
            "rabbitmq" => RabbitMqMessageStore.Create<T>(FreshRabbitQueue(name), new RabbitMqStoreOptions { ConnectionUri = RabbitMqUri }),
            _ => MessageStore.CreateInMemory<T>(name),
        };

    /// <summary>Removes what the run left in the store (the SQLite file, the PostgreSQL schema, the RabbitMQ queues).</summary>
    public static Task CleanUpAsync(string[] args)
    {
        switch (Selected(args))
        {
            case "sqlite":
                foreach (var file in new[] { s_sqlitePath, s_sqlitePath + "-wal", s_sqlitePath + "-shm" })
                {
                    File.Delete(file);
                }

                return Task.CompletedTask;
            case "postgres":
                return DropPostgresSchemaAsync();
            case "rabbitmq":
                return DeleteRabbitQueuesAsync([.. s_rabbitQueues]);
            default:
                return Task.CompletedTask;
        }
    }

    private static void ConfigurePostgres(PostgreSqlStoreOptions options) => Configured(options);

    private static PostgreSqlStoreOptions Configured(PostgreSqlStoreOptions options)
    {
        options.ConnectionString = PostgresConnection;
        options.Schema = s_postgresSchema;
        options.PollInterval = TimeSpan.FromMilliseconds(500);
        return options;
    }

    private static string PostgresConnection =>
        Environment.GetEnvironmentVariable("MESSAGING_POSTGRES_CONNECTION") is { Length: > 0 } value ? value : DefaultPostgres;

    private static async Task DropPostgresSchemaAsync()
    {
        await using var connection = new NpgsqlConnection(PostgresConnection);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{s_postgresSchema}\" CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }

    private static string RabbitMqUri =>
        Environment.GetEnvironmentVariable("MESSAGING_RABBITMQ_URI") is { Length: > 0 } value ? value : DefaultRabbitMq;

    // A queue left by an earlier run that stopped early would hand its old messages to this one.
    private static string FreshRabbitQueue(string name)
    {
        DeleteRabbitQueuesAsync([name]).GetAwaiter().GetResult();
        s_rabbitQueues.Add(name);
        return name;
    }

    private static async Task DeleteRabbitQueuesAsync(IReadOnlyList<string> names)
    {
        var factory = new ConnectionFactory { Uri = new Uri(RabbitMqUri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var name in names)
        {
            await channel.QueueDeleteAsync(name);
            await channel.QueueDeleteAsync(name + ".dead-letter");
        }
    }
}
