using System.Diagnostics;
using System.Reflection;
using MessagingPatterns.Tests.Support;

namespace MessagingPatterns.Tests.Producers;

/// <summary>
/// What a publish costs when nobody traces it. In a collection of its own, run alone: another test's span listener
/// would make the library's source traced while this one runs.
/// </summary>
[Collection(nameof(UntracedPublishTests))]
[CollectionDefinition(nameof(UntracedPublishTests), DisableParallelization = true)]
public sealed class UntracedPublishTests
{
    private static readonly FieldInfo s_id = typeof(Message<int>).GetField("_id", BindingFlags.Instance | BindingFlags.NonPublic)!;

    [Fact]
    public async Task Publish_WithNobodyTracing_NeverMakesTheMessagesGeneratedId()
    {
        Activity.Current.Should().BeNull("the test runs outside any trace");
        await using var store = MessageStore.CreateInMemory<int>($"untraced-{Guid.NewGuid():N}"[..20]);
        var single = new Message<int>(1);
        var batch = new[] { new Message<int>(2), new Message<int>(3) };

        await Producer.Create(store).PublishAsync(single).Within();
        await Producer.Create(store).PublishBatchAsync(batch).Within();

        // A generated id is a string formatted on first read: a publish nobody traces has no reason to pay for it.
        s_id.GetValue(single).Should().BeNull();
        batch.Should().OnlyContain(m => s_id.GetValue(m) == null);
        _ = single.Id;
        s_id.GetValue(single).Should().NotBeNull("the field read is the one the id lives in");
    }
}
