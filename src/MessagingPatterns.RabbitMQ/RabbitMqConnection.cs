using MessagingPatterns.StoreAuthoring;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MessagingPatterns.RabbitMQ;

/// <summary>
/// One store's connection: opened on first use (so building a store never blocks), with the client's
/// automatic recovery, the topology declared once, and one publishing channel with confirmation tracking,
/// on which a publish completes only when the broker confirms it and throws on a nack, a return
/// (<c>mandatory</c>) or a connection lost before the confirm.
/// </summary>
internal sealed class RabbitMqConnection : IAsyncDisposable
{
    private static readonly CreateChannelOptions s_confirming = new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    private readonly ConnectionFactory _factory;
    private readonly Uri _uri;
    private readonly RabbitMqTopology _topology;
    private readonly ILogger _logger;
    private readonly Func<string, string>? _redact;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _adminGate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _publisher;
    private IChannel? _admin;
    private int _disposed;

    public RabbitMqConnection(RabbitMqStoreOptions options, RabbitMqTopology topology, ILogger logger)
    {
        _topology = topology;
        _logger = logger;
        _redact = options.Redact;
        _uri = new Uri(options.ConnectionUri!);
        _factory = new ConnectionFactory
        {
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = options.RecoveryInterval,
            ClientProvidedName = options.ConnectionName ?? "MessagingPatterns:" + topology.Queue,
        };
        ApplyUri(_factory, _uri);
    }

    public RabbitMqTopology Topology => _topology;

    /// <summary>
    /// A broker's close reason as it is logged: its reply text may quote a queue's or a user's data, and it is no
    /// exception, so the redacting logger does not see it.
    /// </summary>
    public string Reason(ShutdownEventArgs args) => $"{args.ReplyCode} {StoreRedaction.Text(args.ReplyText ?? string.Empty, _redact)}";

    /// <summary>The broker's address, for logs: host and port, never the credentials.</summary>
    public string Endpoint => $"{_factory.HostName}:{_factory.Port}";

    public async ValueTask<IConnection> GetAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is { } open)
        {
            return open;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_connection is not null)
            {
                return _connection;
            }

            var connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                await using (channel.ConfigureAwait(false))
                {
                    await _topology.DeclareAsync(channel, cancellationToken).ConfigureAwait(false);
                }

                _publisher = await connection.CreateChannelAsync(s_confirming, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            connection.ConnectionShutdownAsync += OnShutdownAsync;
            connection.RecoverySucceededAsync += OnRecoveredAsync;
            RabbitMqLog.Connected(_logger, _topology.Queue, Endpoint);
            Volatile.Write(ref _connection, connection);
            return connection;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Publishes to <paramref name="queue"/> and waits for the broker's confirm.</summary>
    /// <exception cref="global::RabbitMQ.Client.Exceptions.PublishException">The broker refused (nack) or could not route (return) the message.</exception>
    public async ValueTask PublishAsync(string queue, StoredMessage message, CancellationToken cancellationToken)
    {
        var connection = await GetAsync(cancellationToken).ConfigureAwait(false);
        var publisher = Volatile.Read(ref _publisher)!;
        if (publisher.IsClosed && connection.IsOpen)
        {
            // The broker closed only this channel; the client's recovery brings back channels of a lost
            // connection, not those.
            publisher = await ReopenPublisherAsync(publisher, connection, cancellationToken).ConfigureAwait(false);
        }

        await publisher.BasicPublishAsync(string.Empty, queue, mandatory: true, message.ToProperties(), message.Body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A second connection, for consuming: without the client's automatic recovery (its owner opens it again,
    /// so that a channel is one incarnation), and apart from the publishing one, so a broker that blocks
    /// publishers under a resource alarm still reads this one's acks. The topology is declared first; the
    /// caller disposes the connection.
    /// </summary>
    public async Task<IConnection> CreateConsumerConnectionAsync(CancellationToken cancellationToken)
    {
        await GetAsync(cancellationToken).ConfigureAwait(false);
        var factory = new ConnectionFactory
        {
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            ClientProvidedName = _factory.ClientProvidedName + ":consumer",
        };
        ApplyUri(factory, _uri);
        return await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A new channel, with publisher confirms when asked; the caller disposes it.</summary>
    public async ValueTask<IChannel> CreateChannelAsync(bool confirms, CancellationToken cancellationToken)
    {
        var connection = await GetAsync(cancellationToken).ConfigureAwait(false);
        return await connection.CreateChannelAsync(confirms ? s_confirming : null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="work"/> alone on the store's long-lived channel for counts, browsing and redrive
    /// (with publisher confirms), opening it again if the broker closed it. One channel rather than one per
    /// call: opening and closing channels at a high rate is costly for the broker.
    /// </summary>
    public async Task<T> WithAdminChannelAsync<T>(Func<IChannel, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await _adminGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_admin is not { IsOpen: true })
            {
                if (_admin is { } closed)
                {
                    await closed.DisposeAsync().ConfigureAwait(false);
                }

                _admin = null;
                _admin = await CreateChannelAsync(confirms: true, cancellationToken).ConfigureAwait(false);
            }

            return await work(_admin, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _adminGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_connection is { } connection)
            {
                connection.ConnectionShutdownAsync -= OnShutdownAsync;
                connection.RecoverySucceededAsync -= OnRecoveredAsync;
                if (_admin is { } admin)
                {
                    await admin.DisposeAsync().ConfigureAwait(false);
                }

                if (_publisher is { } publisher)
                {
                    await publisher.DisposeAsync().ConfigureAwait(false);
                }

                await connection.CloseAsync().ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Sets the broker's address and credentials from the URI part by part. The client's own URI parser quotes
    /// the whole user info (password included) in its exception when the password holds a ':', and here the
    /// first ':' separates the user from the password, as in any URI.
    /// </summary>
    private static void ApplyUri(ConnectionFactory factory, Uri uri)
    {
        var secure = uri.Scheme == "amqps";
        factory.HostName = uri.Host;
        factory.Port = uri.Port < 0 ? AmqpTcpEndpoint.UseDefaultPort : uri.Port;
        if (secure)
        {
            factory.Ssl.Enabled = true;
            factory.Ssl.ServerName = uri.Host;
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            factory.UserName = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            factory.Password = colon < 0 ? string.Empty : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        var path = uri.AbsolutePath.TrimStart('/');
        factory.VirtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
    }

    private async Task<IChannel> ReopenPublisherAsync(IChannel closed, IConnection connection, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (ReferenceEquals(_publisher, closed))
            {
                Volatile.Write(ref _publisher, await connection.CreateChannelAsync(s_confirming, cancellationToken).ConfigureAwait(false));
                await closed.DisposeAsync().ConfigureAwait(false);
            }

            return _publisher!;
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task OnShutdownAsync(object sender, ShutdownEventArgs args)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            RabbitMqLog.ConnectionLost(_logger, _topology.Queue, Reason(args));
        }

        return Task.CompletedTask;
    }

    private Task OnRecoveredAsync(object sender, AsyncEventArgs args)
    {
        RabbitMqLog.Recovered(_logger, _topology.Queue);
        return Task.CompletedTask;
    }
}
