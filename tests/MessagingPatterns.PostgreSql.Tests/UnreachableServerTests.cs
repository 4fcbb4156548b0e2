using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MessagingPatterns.PostgreSql.Tests;

/// <summary>
/// A server that accepts connections and never answers (a hung host, a half-open network path): a dispose still
/// ends within its timeout, and a connection that cannot be had fails what is queued at once, instead of each
/// cohort waiting out its own connect timeout. No real server is needed.
/// </summary>
public sealed class UnreachableServerTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dispose_WhileTheServerNeverAnswers_EndsWithinDisposeTimeout_AndFailsWhatWasQueued()
    {
        await using var server = new SilentServer();
        var options = Options(server, connectTimeoutSeconds: 120);
        options.DisposeTimeout = TimeSpan.FromSeconds(1);
        var store = PostgreSqlMessageStore.Create<string>("unanswered", options);

        var first = store.EnqueueAsync(new Message<string>("a", "m-1")).AsTask();
        await server.FirstConnection.WaitAsync(s_patience);
        var queued = Enumerable.Range(2, 3).Select(i => store.EnqueueAsync(new Message<string>("b", $"m-{i}")).AsTask()).ToList();

        // Before the fix the dispose waited for the 120-second connect timeout, and then for another cohort's.
        await store.DisposeAsync().AsTask().WaitAsync(s_patience);

        await first.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>();
        foreach (var publish in queued)
        {
            await publish.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<ObjectDisposedException>("nothing queued was sent");
        }
    }

    [Fact]
    public async Task Dispose_AfterAReceiveStartedTheListener_WhileTheServerNeverAnswers_EndsWithinDisposeTimeout()
    {
        await using var server = new SilentServer();
        var options = Options(server, connectTimeoutSeconds: 120);
        options.DisposeTimeout = TimeSpan.FromSeconds(1);
        var store = PostgreSqlMessageStore.Create<string>("unanswered", options);
        using var giveUp = new CancellationTokenSource();

        // The receive starts the wake-up listener: both connect, and neither hears back.
        var receive = store.ReceiveAsync(new Delivery<string>[1], TimeSpan.FromSeconds(30), giveUp.Token).AsTask();
        await server.ConnectionsReached(2).WaitAsync(s_patience);
        await giveUp.CancelAsync();

        // Before the fix the dispose waited for the listener's 120-second connect timeout.
        await store.DisposeAsync().AsTask().WaitAsync(s_patience);

        await receive.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<OperationCanceledException>("its caller gave up, and the connect it waited for ignores that");
    }

    [Fact]
    public async Task ConnectFailure_FailsEveryQueuedOperationAtOnce_WithoutAConnectAttemptEach()
    {
        await using var server = new SilentServer();
        var store = PostgreSqlMessageStore.Create<string>("unanswered", Options(server, connectTimeoutSeconds: 5));
        try
        {
            var first = store.EnqueueAsync(new Message<string>("a", "m-1")).AsTask();
            await server.FirstConnection.WaitAsync(s_patience);
            var queued = Enumerable.Range(2, 3).Select(i => store.EnqueueAsync(new Message<string>("b", $"m-{i}")).AsTask()).ToList();

            await first.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<NpgsqlException>();
            foreach (var publish in queued)
            {
                await publish.Invoking(task => task.WaitAsync(s_patience)).Should().ThrowAsync<NpgsqlException>("the server that failed the first connect fails them too");
            }

            server.Connections.Should().Be(1, "the operations queued behind a failed connect fail with it, without trying again each");
        }
        finally
        {
            await store.DisposeAsync().AsTask().WaitAsync(s_patience);
        }
    }

    private static PostgreSqlStoreOptions Options(SilentServer server, int connectTimeoutSeconds) => new()
    {
        ConnectionString = $"Host=127.0.0.1;Port={server.Port};Username=nobody;Password=secret;Database=none;Timeout={connectTimeoutSeconds}",
        Schema = "unreachable",
        CreateSchema = false,
    };

    /// <summary>Accepts TCP connections and never writes a byte, so a client waits for its own timeouts.</summary>
    private sealed class SilentServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _accepted = [];
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _accepting;
        private int _connections;

        public SilentServer()
        {
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public Task FirstConnection => _first.Task;

        /// <summary>Completes once this many connections were accepted.</summary>
        public Task ConnectionsReached(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_accepted)
            {
                if (_connections >= count)
                {
                    reached.TrySetResult();
                }
                else
                {
                    _waiters.Add((count, reached));
                }
            }

            return reached.Task;
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _accepting;
            lock (_accepted)
            {
                _accepted.ForEach(socket => socket.Dispose());
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    lock (_accepted)
                    {
                        _accepted.Add(socket);
                        var connections = Interlocked.Increment(ref _connections);
                        _waiters.RemoveAll(waiter => waiter.Count <= connections && waiter.Reached.TrySetResult());
                    }

                    _first.TrySetResult();
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }
    }
}
