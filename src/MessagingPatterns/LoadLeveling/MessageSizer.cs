namespace MessagingPatterns.LoadLeveling;

/// <summary>Measures messages against a buffer's byte bound (every size is 0 without one).</summary>
/// <typeparam name="TMessage">The body type.</typeparam>
internal sealed class MessageSizer<TMessage>(string queueName, Func<object, long>? sizeOf, long? capacityBytes)
{
    /// <summary>Gets whether sizes are counted (a byte bound is set).</summary>
    public bool IsCounting => sizeOf is not null;

    /// <summary>Measures a message being published, which must fit in the bound on its own.</summary>
    /// <exception cref="ArgumentException">The message can never fit (named <paramref name="paramName"/>).</exception>
    /// <exception cref="InvalidOperationException">The size function returned a negative size.</exception>
    public long SizeOfPublished(Message<TMessage> message, string paramName)
    {
        var size = SizeOf(message);
        if (size > capacityBytes)
        {
            throw new ArgumentException($"A message of {size} bytes can never fit in queue '{queueName}' of capacity {capacityBytes} bytes.", paramName);
        }

        return size;
    }

    /// <summary>Measures a message.</summary>
    /// <exception cref="InvalidOperationException">The size function returned a negative size.</exception>
    public long SizeOf(Message<TMessage> message)
    {
        if (sizeOf is null)
        {
            return 0;
        }

        var size = sizeOf(message.Body!);
        if (size < 0)
        {
            throw new InvalidOperationException($"{nameof(LoadLevelingOptions.MessageSize)} returned {size} for message '{message.Id}' of queue '{queueName}'; sizes must be at least 0.");
        }

        return size;
    }

    /// <summary>
    /// Measures the dead letters with the given ids, as they are in the store now (rather than remembered from when
    /// they were dead-lettered, which would hold memory for every dead letter).
    /// </summary>
    public async ValueTask<(int Found, long Size)> MeasureDeadLettersAsync(
        IMessageStore<TMessage> store, IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken)
    {
        if (sizeOf is null || messageIds.Count == 0)
        {
            return (0, 0);
        }

        var filter = new DeadLetterFilter { MessageIds = messageIds };
        var found = 0;
        long size = 0;
        string? token = null;
        do
        {
            var page = await store.BrowseDeadLettersAsync(filter, LoadLevelingDefaults.MoveBatch, token, cancellationToken).ConfigureAwait(false);
            foreach (var letter in page.Items)
            {
                // A body that could not be read back is not redriven as a message; it has no size to count.
                if (letter.Message is { } message)
                {
                    found++;
                    size += SizeOf(message);
                }
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return (found, size);
    }
}
