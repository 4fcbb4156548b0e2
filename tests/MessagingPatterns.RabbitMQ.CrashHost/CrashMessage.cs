namespace MessagingPatterns.RabbitMQ.CrashHost;

/// <summary>The body the crash test publishes.</summary>
public sealed record CrashMessage(long Number);
