namespace MessagingPatterns.PostgreSql.CrashHost;

/// <summary>The crash tests' message: a number, its id derived from it.</summary>
public sealed record CrashMessage(long Number);
