using System.Globalization;

namespace MessagingPatterns.Stores;

/// <summary>
/// An in-memory store's dead letters in the order they arrived, each numbered so that a page's continuation
/// token (the last number it showed) stays valid while entries before or after it are removed. Not
/// thread-safe: the store calls it under its lock.
/// </summary>
internal sealed class DeadLetterList<TMessage>
{
    private readonly List<(long Number, DeadLetter<TMessage> Entry)> _entries = [];
    private long _lastNumber;

    public int Count => _entries.Count;

    /// <summary>The number of the newest entry so far (0 when none was ever added).</summary>
    public long LastNumber => _lastNumber;

    public void Add(DeadLetter<TMessage> deadLetter) => _entries.Add((++_lastNumber, deadLetter));

    /// <summary>Reads a continuation token: the number after which the next page starts.</summary>
    public static long ParseToken(string? continuationToken)
    {
        if (continuationToken is null)
        {
            return 0;
        }

        if (!long.TryParse(continuationToken, NumberStyles.None, CultureInfo.InvariantCulture, out var after))
        {
            throw new ArgumentException("The continuation token was not issued by this store.", nameof(continuationToken));
        }

        return after;
    }

    public DeadLetterPage<TMessage> Browse(DeadLetterFilter filter, int pageSize, long after)
    {
        var items = new List<DeadLetter<TMessage>>(Math.Min(pageSize, 256));
        var last = after;
        for (var i = FirstAfter(after); i < _entries.Count; i++)
        {
            var (number, entry) = _entries[i];
            if (!filter.Matches(entry))
            {
                continue;
            }

            items.Add(entry);
            last = number;
            if (items.Count == pageSize)
            {
                // A token only when something may follow, so a caller's loop ends without an empty page.
                var more = i + 1 < _entries.Count;
                return new DeadLetterPage<TMessage>(items, more ? last.ToString(CultureInfo.InvariantCulture) : null);
            }
        }

        return new DeadLetterPage<TMessage>(items, null);
    }

    /// <summary>
    /// Removes up to <paramref name="max"/> matching entries numbered after <paramref name="after"/> and up to
    /// <paramref name="upTo"/>, oldest first, handing each to <paramref name="removed"/>; returns the number of
    /// the last entry looked at, from which the next batch continues.
    /// </summary>
    public long RemoveMatching(DeadLetterFilter filter, long after, long upTo, int max, Action<DeadLetter<TMessage>> removed, out int count)
    {
        count = 0;
        var last = after;
        var write = FirstAfter(after);
        var read = write;
        for (; read < _entries.Count; read++)
        {
            var item = _entries[read];
            if (item.Number > upTo || count == max)
            {
                break;
            }

            last = item.Number;
            if (filter.Matches(item.Entry))
            {
                removed(item.Entry);
                count++;
            }
            else
            {
                _entries[write++] = item;
            }
        }

        if (count > 0)
        {
            // Close the gap in one move; everything from read on stays in order.
            _entries.RemoveRange(write, read - write);
        }

        return last;
    }

    private int FirstAfter(long after)
    {
        // Numbers rise along the list, so a binary search finds where a page starts.
        int low = 0, high = _entries.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (_entries[mid].Number <= after)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }
}
