using Microsoft.Extensions.Logging;
using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// One connection pool, schema gate and wake-up listener per database, schema and listener settings, shared by every
/// store of the process on them: thirty queues in one process hold one pool and one LISTEN connection rather than
/// thirty of each, and each notification is read once and handed to the stores of its queue. The last store to let
/// go stops the listener and closes the pool.
/// </summary>
internal sealed class SchemaConnection
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<Key, SchemaConnection> s_shared = [];

    private readonly Key _key;
    private readonly Lock _subscribersLock = new();
    private readonly Dictionary<string, Action[]> _subscribers = new(StringComparer.Ordinal);
    private int _users;

    private SchemaConnection(Key key, ILogger logger)
    {
        _key = key;
        DataSource = NpgsqlDataSource.Create(key.ConnectionString);
        Schema = new SchemaGate(DataSource, key.Schema, key.CreateSchema);
        Listener = new ReadyListener(DataSource, PostgreSqlSchema.Channel(key.Schema), Notified, WakeAll, key.PollInterval, key.PingInterval, logger);
    }

    /// <summary>The shared pool, its connections carrying the store's pinned session settings.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Creates the schema once for every store sharing it.</summary>
    public SchemaGate Schema { get; }

    /// <summary>The one LISTEN connection on the schema's channel.</summary>
    public ReadyListener Listener { get; }

    /// <summary>The shared connection for these options, created on first use; pair with <see cref="ReleaseAsync"/>.</summary>
    public static SchemaConnection Acquire(PostgreSqlStoreOptions options, ILogger logger)
    {
        var key = new Key(SessionSettings.Apply(options.ConnectionString!), options.Schema, options.CreateSchema, options.PollInterval, options.ListenerPingInterval);
        lock (s_lock)
        {
            if (!s_shared.TryGetValue(key, out var shared))
            {
                shared = new SchemaConnection(key, logger);
                s_shared.Add(key, shared);
            }

            shared._users++;
            return shared;
        }
    }

    /// <summary>Calls <paramref name="wake"/> when a publish to <paramref name="queue"/> commits anywhere, and after a reconnect.</summary>
    public void Subscribe(string queue, Action wake)
    {
        lock (_subscribersLock)
        {
            _subscribers[queue] = _subscribers.TryGetValue(queue, out var wakes) ? [.. wakes, wake] : [wake];
        }
    }

    /// <summary>Stops calling <paramref name="wake"/>.</summary>
    public void Unsubscribe(string queue, Action wake)
    {
        lock (_subscribersLock)
        {
            if (_subscribers.TryGetValue(queue, out var wakes))
            {
                var rest = wakes.Where(other => other != wake).ToArray();
                if (rest.Length == 0)
                {
                    _subscribers.Remove(queue);
                }
                else
                {
                    _subscribers[queue] = rest;
                }
            }
        }
    }

    /// <summary>Lets go of the connection; the last user stops the listener and closes the pool.</summary>
    public async Task ReleaseAsync()
    {
        lock (s_lock)
        {
            if (--_users > 0)
            {
                return;
            }

            s_shared.Remove(_key);
        }

        await Listener.StopAsync().ConfigureAwait(false);
        await DataSource.DisposeAsync().ConfigureAwait(false);
    }

    private void Notified(string queue)
    {
        Action[]? wakes;
        lock (_subscribersLock)
        {
            _subscribers.TryGetValue(queue, out wakes);
        }

        foreach (var wake in wakes ?? [])
        {
            wake();
        }
    }

    private void WakeAll()
    {
        Action[][] all;
        lock (_subscribersLock)
        {
            all = [.. _subscribers.Values];
        }

        foreach (var wake in all.SelectMany(wakes => wakes))
        {
            wake();
        }
    }

    // The connection string (password included) only ever serves as a key in memory; it is never logged.
    private readonly record struct Key(string ConnectionString, string Schema, bool CreateSchema, TimeSpan PollInterval, TimeSpan PingInterval);
}
