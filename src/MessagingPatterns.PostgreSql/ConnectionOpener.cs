using Npgsql;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// Opens a pooled connection that the caller can stop waiting for. Npgsql does not notice a cancellation while it
/// waits for a server that accepted the socket but never answers, so a cancelled open would last the whole connect
/// timeout; here the caller gets its cancellation at once, and the late connection is closed should it ever open.
/// </summary>
internal static class ConnectionOpener
{
    /// <summary>Opens a connection from <paramref name="dataSource"/>, or throws when <paramref name="cancellationToken"/> is cancelled.</summary>
    public static ValueTask<NpgsqlConnection> OpenAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var opening = dataSource.OpenConnectionAsync(cancellationToken);
        return opening.IsCompleted ? opening : new ValueTask<NpgsqlConnection>(WaitAsync(opening.AsTask(), cancellationToken));
    }

    private static async Task<NpgsqlConnection> WaitAsync(Task<NpgsqlConnection> opening, CancellationToken cancellationToken)
    {
        try
        {
            return await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = opening.ContinueWith(
                static task =>
                {
                    if (task.IsCompletedSuccessfully)
                    {
                        task.Result.Dispose();
                    }
                    else
                    {
                        _ = task.Exception;
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            throw;
        }
    }
}
