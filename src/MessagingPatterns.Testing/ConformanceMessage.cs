namespace MessagingPatterns.Testing;

/// <summary>The message type the conformance suite publishes; a plain record, so serializing stores handle it too.</summary>
/// <param name="Number">A number identifying the message in ordering checks.</param>
/// <param name="Text">Optional text.</param>
public sealed record ConformanceMessage(int Number, string Text = "");
