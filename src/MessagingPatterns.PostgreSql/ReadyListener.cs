using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// Holds one connection that LISTENs on the schema's channel and reports each notification's queue, so the stores of
/// that queue wake their receivers when a publish to it commits anywhere (any process, or the caller's own
/// transaction). Started by the first receive. If the connection drops, it reconnects with a growing delay, and
/// reports the reconnect, since notifications sent meanwhile are lost; until then the receivers' poll bounds their wait. A connection silent
/// for the ping interval is pinged, so one left half-open (no reset ever arrives) is found and replaced.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "StopAsync is the disposal; the source has no timer, so leaving it to the GC holds nothing, and a late EnsureStarted cannot hit a disposed source.")]
internal sealed class ReadyListener(NpgsqlDataSource dataSource, string channel, Action<string> notified, Action reconnected, TimeSpan maxRetryDelay, TimeSpan pingInterval, ILogger logger)
{
    private readonly ChangeSignal _listeningChanged = new();

    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(100);

    // A ping unanswered this long means the connection is gone (Npgsql then breaks it after its cancel timeout).
    private static readonly TimeSpan s_pingTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private volatile bool _listening;
    private int _listens;

    /// <summary>Whether a LISTEN is in place now.</summary>
    public bool IsListening => _listening;

    /// <summary>How many times a LISTEN was put in place: one more after each reconnect (for tests).</summary>
    public int Listens => Volatile.Read(ref _listens);

    /// <summary>Completes when <see cref="IsListening"/> next changes (for tests, which wait for it rather than poll).</summary>
    public Task ListeningChanged => _listeningChanged.Next();

    /// <summary>Starts listening, once.</summary>
    public void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is null)
        {
            var started = new Task<Task>(RunAsync);
            if (Interlocked.CompareExchange(ref _loop, started.Unwrap(), null) is null)
            {
                started.Start(TaskScheduler.Default);
            }
        }
    }

    /// <summary>Stops listening and closes the connection.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (Interlocked.CompareExchange(ref _loop, Task.CompletedTask, null) is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
    }

    private void SetListening(bool listening)
    {
        if (listening)
        {
            Interlocked.Increment(ref _listens);
        }

        _listening = listening;
        _listeningChanged.Raise();
    }

    private async Task RunAsync()
    {
        var retryDelay = s_firstRetryDelay;
        var lost = false;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var connection = await ConnectionOpener.OpenAsync(dataSource, _stop.Token).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    connection.Notification += OnNotification;
                    var listen = new NpgsqlCommand($"LISTEN \"{channel}\"", connection);
                    await using (listen.ConfigureAwait(false))
                    {
                        await listen.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                    }

                    if (lost)
                    {
                        PostgreSqlLog.ListenerRestored(logger, channel);
                        lost = false;
                    }

                    retryDelay = s_firstRetryDelay;
                    SetListening(true);
                    reconnected();
                    while (true)
                    {
                        if (!await connection.WaitAsync(pingInterval, _stop.Token).ConfigureAwait(false))
                        {
                            await PingAsync(connection).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                SetListening(false);
                return;
            }
            catch (Exception exception)
            {
                SetListening(false);
                lost = true;
                PostgreSqlLog.ListenerLost(logger, channel, exception.GetType().FullName ?? exception.GetType().Name, (exception as DbException)?.SqlState, retryDelay);
                try
                {
                    await Task.Delay(retryDelay, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, maxRetryDelay.Ticks));
            }
        }
    }

    private async Task PingAsync(NpgsqlConnection connection)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(s_pingTimeout);
        var ping = new NpgsqlCommand("SELECT 1", connection);
        await using (ping.ConfigureAwait(false))
        {
            try
            {
                await ping.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                throw new TimeoutException($"The wake-up listener's connection did not answer a ping within {s_pingTimeout.TotalSeconds:0} s.");
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs notification) => notified(notification.Payload);
}
