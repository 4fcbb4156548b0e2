namespace MessagingPatterns.Benchmarks.Sqlite;

/// <summary>A small message body, serialized by the SQLite store and kept as is by the in-memory one.</summary>
/// <param name="Number">A number.</param>
/// <param name="Text">A short text.</param>
public sealed record BenchMessage(int Number, string Text);
