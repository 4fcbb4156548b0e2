using System.Text.RegularExpressions;

namespace MessagingPatterns;

/// <summary>
/// Queue names are allow-listed — a letter, then up to 63 letters, digits, <c>_</c>, <c>.</c> or
/// <c>-</c> — so every store can use them in keys, table names and metric tags without escaping surprises.
/// </summary>
public static partial class QueueNames
{
    /// <summary>The name used when none is given: <c>default</c>.</summary>
    public const string Default = "default";

    /// <summary>The pattern a queue name must match.</summary>
    /// <remarks>It ends in <c>\z</c>, not <c>$</c>, which would also match before a trailing newline.</remarks>
    public const string Pattern = @"^[A-Za-z][A-Za-z0-9_.-]{0,63}\z";

    /// <summary>Whether <paramref name="name"/> is a valid queue name.</summary>
    /// <param name="name">The name to check.</param>
    public static bool IsValid(string? name) => name is not null && NameRegex().IsMatch(name);

    /// <summary>Throws if <paramref name="name"/> is not a valid queue name.</summary>
    /// <param name="name">The name to check.</param>
    /// <param name="paramName">The parameter named in the exception.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> does not match <see cref="Pattern"/>.</exception>
    public static void ThrowIfInvalid(string? name, string paramName = "name")
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (!IsValid(name))
        {
            throw new ArgumentException($"Queue name '{name}' is not allowed: use a letter, then up to 63 letters, digits, '_', '.' or '-'.", paramName);
        }
    }

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex NameRegex();
}
