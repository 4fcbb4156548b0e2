namespace MessagingPatterns.RabbitMQ.Tests;

public sealed record TestMessage(long Number, string Text = "");
