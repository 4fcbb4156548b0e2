namespace MessagingPatterns.Sqlite.CrashHost;

/// <summary>The body the crash host publishes.</summary>
/// <param name="Number">The message's number, also in its id.</param>
public sealed record CrashMessage(long Number);
