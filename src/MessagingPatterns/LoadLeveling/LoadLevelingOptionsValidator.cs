using MessagingPatterns.Pacing;
using Microsoft.Extensions.Options;

namespace MessagingPatterns.LoadLeveling;

/// <summary>
/// Validates <see cref="LoadLevelingOptions"/>: the data-annotation ranges plus the rules that span options, with one
/// result listing every problem. Used by DI at start and by <c>MessageStore.WithLoadLeveling</c>.
/// </summary>
internal sealed class LoadLevelingOptionsValidator : IValidateOptions<LoadLevelingOptions>
{
    private readonly LoadLevelingOptionsAttributeValidator _attributes = new();

    public ValidateOptionsResult Validate(string? name, LoadLevelingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var attributes = _attributes.Validate(name, options);
        if (attributes.Failed)
        {
            failures.AddRange(attributes.Failures);
        }

        if (!Enum.IsDefined(options.FullMode))
        {
            failures.Add($"{nameof(LoadLevelingOptions.FullMode)} {(int)options.FullMode} is not a {nameof(FullMode)} value.");
        }

        if (options.PublishTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(LoadLevelingOptions.PublishTimeout)} must be positive (or null to wait as long as the caller's token allows); it is {timeout}.");
        }

        PacingOptionsValidator.CheckRate(options.MessagesPerSecond, options.RateLimiter, failures);

        if (options.CapacityBytes is not null && options.MessageSize is null)
        {
            failures.Add($"{nameof(LoadLevelingOptions.CapacityBytes)} needs {nameof(LoadLevelingOptions.MessageSize)} to measure each message.");
        }

        var drops = options.FullMode is FullMode.DropOldest or FullMode.DropNewest;
        if (drops && options.OnDropped is null)
        {
            failures.Add($"{nameof(LoadLevelingOptions.FullMode)} {options.FullMode} needs {nameof(LoadLevelingOptions.OnDropped)}, so that every dropped message is reported.");
        }

        if (drops && options.RequireNoDataLoss)
        {
            failures.Add(
                $"{nameof(LoadLevelingOptions.RequireNoDataLoss)} is set, but {nameof(LoadLevelingOptions.FullMode)} {options.FullMode} drops messages when the queue is full. " +
                $"Use {nameof(FullMode.Wait)} (publishers wait) or {nameof(FullMode.Reject)} (publishers get a {nameof(QueueFullException)}), or turn {nameof(LoadLevelingOptions.RequireNoDataLoss)} off.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// The rule that needs the stores: with <see cref="LoadLevelingOptions.RequireNoDataLoss"/>, the store and any
    /// overflow store must be durable. Returns the failure, or <see langword="null"/>.
    /// </summary>
    public static string? CheckDurability<TMessage>(LoadLevelingOptions options, IMessageStore<TMessage> inner, IMessageStore<TMessage>? overflow)
    {
        if (!options.RequireNoDataLoss)
        {
            return null;
        }

        if (inner is not IDurableMessageStore<TMessage>)
        {
            return $"{nameof(LoadLevelingOptions.RequireNoDataLoss)} is set, but the store of queue '{inner.Name}' ({inner.GetType().Name}) is not durable " +
                "(not an IDurableMessageStore): its messages are lost when the process ends, and a durable overflow store would not save the ones already in it. " +
                $"Use a durable store, or turn {nameof(LoadLevelingOptions.RequireNoDataLoss)} off.";
        }

        if (overflow is not null and not IDurableMessageStore<TMessage>)
        {
            return $"{nameof(LoadLevelingOptions.RequireNoDataLoss)} is set, but the overflow store of queue '{inner.Name}' ({overflow.GetType().Name}) is not durable " +
                $"(not an IDurableMessageStore): messages spilled to it are lost when the process ends. Use a durable overflow store, or turn {nameof(LoadLevelingOptions.RequireNoDataLoss)} off.";
        }

        return null;
    }
}
