namespace MessagingPatterns;

/// <summary>
/// Identifies one lease on one delivered message. Only the current lease's token may acknowledge,
/// release, renew or dead-letter the message; a token whose lease has ended changes nothing.
/// </summary>
/// <remarks>
/// The meaning of the parts belongs to the store that issued the token (a slot and a generation, a row
/// id and a fencing nonce, a delivery tag and a channel). Pass tokens back to the store that issued them.
/// </remarks>
public readonly struct LeaseToken : IEquatable<LeaseToken>
{
    /// <summary>Creates a token. Stores call this; applications receive tokens in a <see cref="Delivery{TMessage}"/>.</summary>
    /// <param name="id">The store's identifier of the leased entry.</param>
    /// <param name="version">The store's fencing value, which changes whenever the lease ends.</param>
    /// <param name="owner">An optional object the store uses to recognise its own tokens.</param>
    public LeaseToken(long id, long version, object? owner = null)
    {
        Id = id;
        Version = version;
        Owner = owner;
    }

    /// <summary>The store's identifier of the leased entry.</summary>
    public long Id { get; }

    /// <summary>The store's fencing value for this lease.</summary>
    public long Version { get; }

    /// <summary>An object the store uses to recognise its own tokens, or <see langword="null"/>.</summary>
    public object? Owner { get; }

    /// <inheritdoc/>
    public bool Equals(LeaseToken other) =>
        Id == other.Id && Version == other.Version && ReferenceEquals(Owner, other.Owner);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is LeaseToken other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Id, Version);

    /// <summary>Compares two tokens.</summary>
    public static bool operator ==(LeaseToken left, LeaseToken right) => left.Equals(right);

    /// <summary>Compares two tokens.</summary>
    public static bool operator !=(LeaseToken left, LeaseToken right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"{Id}:{Version}";
}
