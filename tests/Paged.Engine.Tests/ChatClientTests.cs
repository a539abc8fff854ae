using Microsoft.Extensions.AI;
using Paged.Extensions.AI;

namespace Paged.Engine.Tests;

/// <summary><see cref="PagedChatClient"/> (Microsoft.Extensions.AI's IChatClient) on stories260K: the same tokens as the engine, streamed and whole.</summary>
[TestClass]
public sealed class ChatClientTests
{
    private static readonly ChatMessage[] Conversation = [new(ChatRole.System, "Tell a story."), new(ChatRole.User, "Once upon a time")];

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Responses_EqualTheEnginesGreedyText_StreamedAndWhole()
    {
        string prompt = PagedChatClient.TranscriptPrompt(Conversation);
        Assert.AreEqual("system: Tell a story.\nuser: Once upon a time\nassistant:", prompt);
        RequestOutput expected;
        using (var sync = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions()))
            expected = sync.Generate([(prompt, new SamplingParams { MaxTokens = 24 })])[0];

        await using var engine = AsyncEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions());
        using var client = new PagedChatClient(engine, "stories260K");
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 24 };
        var whole = await client.GetResponseAsync(Conversation, options);
        Assert.AreEqual(expected.Text, whole.Text);
        Assert.AreEqual(expected.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, whole.FinishReason);
        Assert.AreEqual(expected.PromptTokenIds.Count, whole.Usage?.InputTokenCount);
        Assert.AreEqual(expected.TokenIds.Count, whole.Usage?.OutputTokenCount);
        Assert.AreEqual("stories260K", whole.ModelId);

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, options))
            streamed.Add(update);
        Assert.IsGreaterThan(1, streamed.Count, "the reply streams in several updates");
        Assert.AreEqual(expected.Text, string.Concat(streamed.Select(u => u.Text)));

        int cut = expected.Text.IndexOf(' ', 3);
        Assert.IsGreaterThan(0, cut);
        string stop = expected.Text.Substring(cut, 2);
        var stopped = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 24, StopSequences = [stop] });
        Assert.AreEqual(expected.Text[..expected.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.AreEqual(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.AreSame(engine, client.GetService<AsyncEngine>());
        Assert.AreEqual("paged", client.GetService<ChatClientMetadata>()?.ProviderName);
    }
}
