using System.Text;

namespace MessagingPatterns.PostgreSql;

/// <summary>
/// Text the server can store: PostgreSQL's <c>text</c> rejects NUL, and a lone UTF-16 surrogate cannot be encoded
/// as UTF-8 at all. Checked before an operation joins a shared transaction, so it fails only its own caller.
/// </summary>
internal static class StoredText
{
    /// <summary>The longest dead-letter reason kept; the rest is cut, since a reason is a diagnostic.</summary>
    public const int MaxReasonLength = 8 * 1024;

    /// <summary>Whether <paramref name="value"/> has no NUL and no lone surrogate.</summary>
    public static bool IsStorable(string value) => !value.Contains('\0', StringComparison.Ordinal) && IsWellFormed(value);

    /// <summary>A reason as stored: NUL removed, lone surrogates replaced with U+FFFD, cut to <see cref="MaxReasonLength"/>.</summary>
    public static string Reason(string reason)
    {
        if (reason.Length > MaxReasonLength)
        {
            // Never cut between the halves of a pair.
            var cut = char.IsHighSurrogate(reason[MaxReasonLength - 1]) ? MaxReasonLength - 1 : MaxReasonLength;
            reason = reason[..cut];
        }

        if (IsStorable(reason))
        {
            return reason;
        }

        var builder = new StringBuilder(reason.Length);
        for (var i = 0; i < reason.Length; i++)
        {
            if (char.IsHighSurrogate(reason[i]) && i + 1 < reason.Length && char.IsLowSurrogate(reason[i + 1]))
            {
                builder.Append(reason, i++, 2);
            }
            else if (char.IsSurrogate(reason[i]))
            {
                builder.Append('\uFFFD');
            }
            else if (reason[i] != '\0')
            {
                builder.Append(reason[i]);
            }
        }

        return builder.ToString();
    }

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}
