using System.Text.Json;
using Paged.Engine;

namespace Paged.Server.Tests;

/// <summary>/v1/completions over HTTP (the OpenAI .NET SDK has no legacy completions client).</summary>
[TestClass]
public sealed class CompletionsTests
{
    private static TestServer s_server = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) => s_server = await TestServer.StartAsync();

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    private static async Task<JsonElement> Complete(object body)
    {
        var (status, json) = await s_server.PostAsync("v1/completions", body);
        Assert.AreEqual(200, status, json.ToString());
        return json;
    }

    [TestMethod]
    public async Task GreedyOutputEqualsTheEngineDirectly()
    {
        string[] prompts = ["Once upon a time", "The cat sat", "Lily went to the park and"];
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 40 };
        using var engine = LlmEngine.Create(TestServer.ModelPath, null, TestServer.DefaultEngineOptions);
        var direct = engine.Generate(prompts.Select(p => (p, sampling)).ToList());

        var json = await Complete(new { model = TestServer.ModelName, prompt = prompts, max_tokens = 40, temperature = 0, return_token_ids = true });
        var choices = json.GetProperty("choices").EnumerateArray().ToList();
        Assert.HasCount(3, choices);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.AreEqual(i, choices[i].GetProperty("index").GetInt32());
            Assert.AreEqual(direct[i].Text, choices[i].GetProperty("text").GetString(), $"prompt {i}");
            CollectionAssert.AreEqual(direct[i].TokenIds.ToArray(), choices[i].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            CollectionAssert.AreEqual(direct[i].PromptTokenIds.ToArray(), choices[i].GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        }

        var usage = json.GetProperty("usage");
        Assert.AreEqual(direct.Sum(d => d.PromptTokenIds.Count), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.AreEqual(direct.Sum(d => d.TokenIds.Count), usage.GetProperty("completion_tokens").GetInt32());
    }

    [TestMethod]
    public async Task TheGgufCopyServesTheSameGreedyText()
    {
        await using var gguf = await TestServer.StartAsync(modelPath: Path.Combine(TestServer.Shared, "models", "stories260K", "stories260K.gguf"));
        var body = new { prompt = "Once upon a time", max_tokens = 30, temperature = 0 };
        var (status, fromGguf) = await gguf.PostAsync("v1/completions", body);
        Assert.AreEqual(200, status);
        Assert.AreEqual(
            (await Complete(body)).GetProperty("choices")[0].GetProperty("text").GetString(),
            fromGguf.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [TestMethod]
    public async Task NTwoGivesTwoIndexedChoicesPerPrompt()
    {
        var json = await Complete(new { prompt = new[] { "A bird", "A fish" }, n = 2, max_tokens = 10, temperature = 1.0, seed = 7 });
        var choices = json.GetProperty("choices").EnumerateArray().ToList();
        Assert.HasCount(4, choices);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 3 }, choices.Select(c => c.GetProperty("index").GetInt32()).ToArray());
        Assert.AreEqual(40, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var texts = choices.Select(c => c.GetProperty("text").GetString()).ToList();
        Assert.IsTrue(texts[0] != texts[1] || texts[2] != texts[3], "sampled siblings differ");

        var streamed = await s_server.StreamAsync("v1/completions", new { prompt = "A bird", n = 2, max_tokens = 10, temperature = 1.0, seed = 7, stream = true });
        Assert.AreEqual("[DONE]", streamed[^1]);
        var byIndex = new Dictionary<int, string>();
        foreach (string e in streamed.SkipLast(1))
        {
            var c = JsonDocument.Parse(e).RootElement.GetProperty("choices")[0];
            int index = c.GetProperty("index").GetInt32();
            byIndex[index] = byIndex.GetValueOrDefault(index, "") + c.GetProperty("text").GetString();
        }

        Assert.AreEqual(texts[0], byIndex[0]);
        Assert.AreEqual(texts[1], byIndex[1]);
    }

    [TestMethod]
    public async Task StopStringCutsTheTextAndIsTheStopReason()
    {
        string full = (await Complete(new { prompt = "Once upon a time", max_tokens = 40, temperature = 0 })).GetProperty("choices")[0].GetProperty("text").GetString()!;
        string stop = full.Substring(full.Length / 2, 4);
        var choice = (await Complete(new { prompt = "Once upon a time", max_tokens = 40, temperature = 0, stop = new[] { "zzzz", stop } })).GetProperty("choices")[0];
        Assert.AreEqual(full[..full.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.AreEqual("stop", choice.GetProperty("finish_reason").GetString());
        Assert.AreEqual(stop, choice.GetProperty("stop_reason").GetString());

        // Streamed, the held-back text never leaks the stop string.
        var events = await s_server.StreamAsync("v1/completions", new { prompt = "Once upon a time", max_tokens = 40, temperature = 0, stop, stream = true });
        string streamed = string.Concat(events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.AreEqual(full[..full.IndexOf(stop, StringComparison.Ordinal)], streamed);
    }

    [TestMethod]
    public async Task TokenIdPromptsEchoAndLogprobs()
    {
        var (_, tokenized) = await s_server.PostAsync("tokenize", new { prompt = "Once upon a time" });
        int[] ids = tokenized.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        string byText = (await Complete(new { prompt = "Once upon a time", max_tokens = 12, temperature = 0 })).GetProperty("choices")[0].GetProperty("text").GetString()!;
        var byIds = await Complete(new { prompt = ids, max_tokens = 12, temperature = 0 });
        Assert.AreEqual(byText, byIds.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.AreEqual(ids.Length, byIds.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var echoed = await Complete(new { prompt = "Once upon a time", max_tokens = 12, temperature = 0, echo = true });
        Assert.AreEqual("Once upon a time" + byText, echoed.GetProperty("choices")[0].GetProperty("text").GetString());

        var logprobs = (await Complete(new { prompt = "Once upon a time", max_tokens = 5, temperature = 0, logprobs = 2 })).GetProperty("choices")[0].GetProperty("logprobs");
        Assert.AreEqual(5, logprobs.GetProperty("tokens").GetArrayLength());
        Assert.AreEqual(5, logprobs.GetProperty("token_logprobs").GetArrayLength());
        Assert.AreEqual(2, logprobs.GetProperty("top_logprobs")[0].EnumerateObject().Count());
        Assert.AreEqual(0, logprobs.GetProperty("text_offset")[0].GetInt32());
        Assert.AreEqual(byText[..5], string.Concat(logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()))[..5]);
    }

    [TestMethod]
    public async Task RepeatedPromptReportsCachedTokens()
    {
        string prompt = string.Concat(Enumerable.Repeat("The sun was bright and the sky was blue. ", 4));
        var first = await Complete(new { prompt, max_tokens = 2, temperature = 0 });
        var second = await Complete(new { prompt, max_tokens = 2, temperature = 0 });
        int promptTokens = second.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        int cached = second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.IsGreaterThan(16, promptTokens);
        Assert.IsGreaterThanOrEqualTo(16, cached, "at least one full block of the repeated prompt came from the prefix cache");
        Assert.IsLessThan(promptTokens, cached);
        Assert.AreEqual(0, first.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    [TestMethod]
    public async Task StreamedUsageComesLastWhenAsked()
    {
        var events = await s_server.StreamAsync("v1/completions", new
        {
            prompt = "Tom had a red ball",
            max_tokens = 8,
            temperature = 0,
            stream = true,
            stream_options = new { include_usage = true },
            unknown_field = new { ignored = true },
        });
        Assert.AreEqual("[DONE]", events[^1]);
        var usageChunk = JsonDocument.Parse(events[^2]).RootElement;
        Assert.AreEqual(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.AreEqual(8, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var last = JsonDocument.Parse(events[^3]).RootElement.GetProperty("choices")[0];
        Assert.AreEqual("length", last.GetProperty("finish_reason").GetString());
        Assert.AreEqual(JsonValueKind.Null, JsonDocument.Parse(events[0]).RootElement.GetProperty("usage").ValueKind);
    }
}
