using OpenAI.Chat;

namespace Paged.Server.Tests;

/// <summary>/v1/chat/completions through the official OpenAI .NET SDK.</summary>
[TestClass]
public sealed class ChatCompletionsTests
{
    private static TestServer s_server = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) => s_server = await TestServer.StartAsync();

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    private static ChatMessage[] Conversation(string user) => [new SystemChatMessage("You tell short stories."), new UserChatMessage(user)];

    [TestMethod]
    public async Task CompletesAndReportsUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        ChatCompletion c = (await s_server.Chat().CompleteChatAsync(Conversation("Tell me about a cat."), options)).Value;

        Assert.AreEqual(ChatMessageRole.Assistant, c.Role);
        Assert.IsFalse(string.IsNullOrEmpty(c.Content[0].Text));
        Assert.AreEqual(ChatFinishReason.Length, c.FinishReason);
        Assert.AreEqual(TestServer.ModelName, c.Model);
        Assert.AreEqual("fp_paged_cpu", c.SystemFingerprint);
        Assert.AreEqual(12, c.Usage.OutputTokenCount);

        // The prompt is what the chat template renders: /tokenize with the same messages counts the same tokens.
        var (status, tokens) = await s_server.PostAsync("tokenize", new
        {
            messages = new object[] { new { role = "system", content = "You tell short stories." }, new { role = "user", content = "Tell me about a cat." } },
        });
        Assert.AreEqual(200, status);
        Assert.AreEqual(tokens.GetProperty("count").GetInt32(), c.Usage.InputTokenCount);
        Assert.AreEqual(c.Usage.InputTokenCount + 12, c.Usage.TotalTokenCount);
    }

    [TestMethod]
    public async Task StreamingDeltasConcatenateToTheNonStreamingText()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 30, Temperature = 0 };
        string whole = (await s_server.Chat().CompleteChatAsync(Conversation("A dog and a ball."), options)).Value.Content[0].Text;

        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in s_server.Chat().CompleteChatStreamingAsync(Conversation("A dog and a ball."), options))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.AreEqual(whole, text.ToString());
        Assert.IsGreaterThan(2, updates, "the answer arrives in several events");
        Assert.AreEqual(ChatFinishReason.Length, finish);
        Assert.IsNotNull(usage, "the SDK asks for stream_options.include_usage; the last event carries usage");
        Assert.AreEqual(30, usage.OutputTokenCount);
    }

    [TestMethod]
    public async Task LogprobsHaveOneEntryPerTokenWithTheRequestedAlternatives()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion c = (await s_server.Chat().CompleteChatAsync(Conversation("Once upon a time"), options)).Value;
        Assert.HasCount(6, c.ContentTokenLogProbabilities);
        foreach (var t in c.ContentTokenLogProbabilities)
        {
            Assert.HasCount(3, t.TopLogProbabilities);
            Assert.IsLessThanOrEqualTo(0f, t.LogProbability);
            // Greedy: the chosen token is the most likely one.
            Assert.AreEqual(t.TopLogProbabilities[0].LogProbability, t.LogProbability, 1e-6f);
            Assert.AreEqual(t.Token, t.TopLogProbabilities[0].Token);
        }

        Assert.AreEqual(c.Content[0].Text, string.Concat(c.ContentTokenLogProbabilities.Select(t => t.Token)), "the tokens spell the text (this vocabulary has whole-character pieces)");
    }

    [TestMethod]
    public async Task SameSeedSameTextAloneAndAmongOtherRequests()
    {
        var seeded = new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 1f, Seed = 1234 };
        string alone = (await s_server.Chat().CompleteChatAsync(Conversation("Sampled story."), seeded)).Value.Content[0].Text;
        string again = (await s_server.Chat().CompleteChatAsync(Conversation("Sampled story."), seeded)).Value.Content[0].Text;
        Assert.AreEqual(alone, again);

        var others = Enumerable.Range(0, 6).Select(i => s_server.Chat().CompleteChatAsync(
            Conversation($"Other request {i}."), new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 1f })).ToList();
        var crowded = s_server.Chat().CompleteChatAsync(Conversation("Sampled story."), seeded);
        await Task.WhenAll(others);
        Assert.AreEqual(alone, (await crowded).Value.Content[0].Text);

        var otherSeed = new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 1f, Seed = 99 };
        Assert.AreNotEqual(alone, (await s_server.Chat().CompleteChatAsync(Conversation("Sampled story."), otherSeed)).Value.Content[0].Text,
            "another seed gives another text (else the test could not fail)");
    }

    [TestMethod]
    public async Task StopSequenceEndsTheAnswerBeforeIt()
    {
        var free = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        string full = (await s_server.Chat().CompleteChatAsync(Conversation("The little bird."), free)).Value.Content[0].Text;
        Assert.IsGreaterThan(10, full.Length);
        string stop = full.Substring(full.Length / 2, 3);
        int cut = full.IndexOf(stop, StringComparison.Ordinal);

        var stopping = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        stopping.StopSequences.Add(stop);
        ChatCompletion c = (await s_server.Chat().CompleteChatAsync(Conversation("The little bird."), stopping)).Value;
        Assert.AreEqual(full[..cut], c.Content[0].Text);
        Assert.AreEqual(ChatFinishReason.Stop, c.FinishReason);
    }
}
