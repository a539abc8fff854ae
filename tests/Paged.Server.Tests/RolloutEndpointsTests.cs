using System.Text.Json;
using Paged.Engine;
using Paged.Models;
using Paged.Models.Hf;
using Paged.Models.Tokenization;
using Paged.Models.Weights;

namespace Paged.Server.Tests;

/// <summary>
/// The RL endpoints: prompt_logprobs (vLLM's extra parameter) and echo + logprobs on completions, prompt_logprobs on
/// chat, weight_version in responses, POST /v1/update_weights behind its flag and POST /v1/reset_prefix_cache.
/// Each test starts its own server (an update changes the model for everyone).
/// </summary>
[TestClass]
public sealed class RolloutEndpointsTests
{
    private const string Prompt = "Once upon a time, there was a little girl";

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Prompt_logprobs_and_echo_with_logprobs_report_the_prompt_tokens()
    {
        await using var server = await TestServer.StartAsync();
        var (status, json) = await server.PostAsync("v1/completions", new { prompt = Prompt, max_tokens = 3, temperature = 0, prompt_logprobs = 2, return_token_ids = true });
        Assert.AreEqual(200, status, json.ToString());
        var choice = json.GetProperty("choices")[0];
        var promptIds = choice.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var lps = choice.GetProperty("prompt_logprobs");
        Assert.AreEqual(promptIds.Length, lps.GetArrayLength());
        Assert.AreEqual(JsonValueKind.Null, lps[0].ValueKind, "nothing precedes the first prompt token");
        for (int p = 1; p < promptIds.Length; p++)
        {
            var entry = lps[p];
            Assert.IsTrue(entry.TryGetProperty(promptIds[p].ToString(System.Globalization.CultureInfo.InvariantCulture), out var own), $"position {p} carries its own token");
            Assert.IsLessThanOrEqualTo(0.0, own.GetProperty("logprob").GetDouble());
            Assert.IsGreaterThanOrEqualTo(2, entry.EnumerateObject().Count());
        }

        Assert.AreEqual(0, json.GetProperty("weight_version").GetInt32());

        // The same numbers through the engine directly (its own tests check them against a reference).
        var direct = server.Engine.GenerateAsync(new GenerationRequest { PromptTokenIds = promptIds, Sampling = new SamplingParams { MaxTokens = 1, PromptLogprobs = 0 } });
        RequestOutput? last = null;
        await foreach (var o in direct)
            last = o;
        for (int p = 1; p < promptIds.Length; p++)
        {
            float expected = last!.PromptLogprobs![p]!.Logprob;
            var own = lps[p].GetProperty(promptIds[p].ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.AreEqual(expected, own.GetProperty("logprob").GetSingle(), 1e-6f);
            Assert.AreEqual(last.PromptLogprobs![p]!.Rank, own.GetProperty("rank").GetInt32(), $"position {p}: vLLM's rank of the prompt token");
        }

        // OpenAI legacy echo + logprobs: the logprobs cover the prompt (first token null), then the completion.
        (status, json) = await server.PostAsync("v1/completions", new { prompt = Prompt, max_tokens = 3, temperature = 0, echo = true, logprobs = 1 });
        Assert.AreEqual(200, status, json.ToString());
        var echoed = json.GetProperty("choices")[0].GetProperty("logprobs");
        var tokenLogprobs = echoed.GetProperty("token_logprobs");
        Assert.AreEqual(promptIds.Length + 3, tokenLogprobs.GetArrayLength());
        Assert.AreEqual(JsonValueKind.Null, tokenLogprobs[0].ValueKind);
        for (int p = 1; p < promptIds.Length; p++)
            Assert.AreEqual(last!.PromptLogprobs![p]!.Logprob, tokenLogprobs[p].GetSingle(), 1e-6f, $"echoed position {p}");
        Assert.AreEqual(promptIds.Length + 3, echoed.GetProperty("tokens").GetArrayLength());
        StringAssert.StartsWith(json.GetProperty("choices")[0].GetProperty("text").GetString(), Prompt);

        // Streamed: the first chunk echoes the prompt with its logprobs; the concatenated logprobs equal the final ones.
        var events = await server.StreamAsync("v1/completions", new { prompt = Prompt, max_tokens = 3, temperature = 0, echo = true, logprobs = 1, stream = true });
        var streamed = events.Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement)
            .SelectMany(e => e.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("token_logprobs").EnumerateArray())
            .Select(v => v.ValueKind == JsonValueKind.Null ? (float?)null : v.GetSingle()).ToArray();
        CollectionAssert.AreEqual(tokenLogprobs.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (float?)null : v.GetSingle()).ToArray(), streamed);

        // Chat: vLLM puts prompt_logprobs at the top level.
        (status, json) = await server.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 2, prompt_logprobs = 0 });
        Assert.AreEqual(200, status, json.ToString());
        Assert.AreEqual(JsonValueKind.Null, json.GetProperty("prompt_logprobs")[0].ValueKind);
        Assert.IsGreaterThan(1, json.GetProperty("prompt_logprobs").GetArrayLength());

        (status, json) = await server.PostAsync("v1/completions", new { prompt = Prompt, prompt_logprobs = 21 });
        Assert.AreEqual(400, status, json.ToString());
        Assert.AreEqual("prompt_logprobs", json.GetProperty("error").GetProperty("param").GetString());
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Update_weights_is_off_unless_allowed()
    {
        await using var server = await TestServer.StartAsync();
        var (status, json) = await server.PostAsync("v1/update_weights", new { path = "/tmp/none.safetensors" });
        Assert.AreEqual(403, status, json.ToString());
        StringAssert.Contains(json.GetProperty("error").GetProperty("message").GetString(), "--allow-weight-updates");
        (status, _) = await server.PostAsync("v1/reset_prefix_cache", new { });
        Assert.AreEqual(200, status);
    }

    [TestMethod]
    [Timeout(180_000, CooperativeCancellation = true)]
    public async Task An_allowed_update_changes_outputs_to_those_of_the_new_weights()
    {
        string dir = Path.Combine(Path.GetTempPath(), "paged-update-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var server = await TestServer.StartAsync(new ServerOptions { AllowWeightUpdates = true });
            var body = new { prompt = Prompt, max_tokens = 20, temperature = 0, return_token_ids = true };
            var (status, before) = await server.PostAsync("v1/completions", body);
            Assert.AreEqual(200, status, before.ToString());

            // New weights: stories260K with every norm weight halved and a layer's down projection negated.
            using var original = ModelLoader.Load(TestServer.ModelPath);
            string file = Path.Combine(dir, "update.safetensors");
            var writer = new SafetensorsWriter();
            var changed = new List<WeightTensor>();
            foreach (var t in original.AllTensors)
            {
                var data = t.ToArray();
                if (t.Name.EndsWith("norm.weight", StringComparison.Ordinal))
                    data = [.. data.Select(v => v * 0.5f)];
                else if (t.Name == WeightNames.Layer(0, WeightNames.Down))
                    data = [.. data.Select(v => -v)];
                writer.Add(t.Name, WeightDType.F32, data, [.. t.Shape]);
                changed.Add(new WeightTensor(t.Name, data, [.. t.Shape]));
            }

            writer.Save(file);
            (status, var json) = await server.PostAsync("v1/update_weights", new { path = file });
            Assert.AreEqual(200, status, json.ToString());
            Assert.AreEqual(1, json.GetProperty("weight_version").GetInt32());

            var (_, after) = await server.PostAsync("v1/completions", body);
            Assert.AreEqual(1, after.GetProperty("weight_version").GetInt32());
            Assert.AreEqual(0, after.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), "no prefix of the old weights is reused");
            var ids = after.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            CollectionAssert.AreNotEqual(before.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), ids);

            using var fresh = new ModelWeights(original.Config, file, changed);
            using var engine = new LlmEngine(fresh, TokenizerLoader.Load(TestServer.ModelPath, null, original.Config), TestServer.DefaultEngineOptions);
            var expected = engine.Generate([(Prompt, new SamplingParams { MaxTokens = 20 })])[0];
            CollectionAssert.AreEqual(expected.TokenIds.ToArray(), ids, "exactly what a fresh engine with the new weights says");

            // A partial update: only the changed tensors, back to their original values (the others keep theirs).
            string restore = Path.Combine(dir, "restore.safetensors");
            var partial = new SafetensorsWriter();
            foreach (var t in original.AllTensors.Where(t => t.Name.EndsWith("norm.weight", StringComparison.Ordinal) || t.Name == WeightNames.Layer(0, WeightNames.Down)))
                partial.Add(t.Name, WeightDType.F32, t.ToArray(), [.. t.Shape]);
            partial.Save(restore);
            (status, json) = await server.PostAsync("v1/update_weights", new { path = restore });
            Assert.AreEqual(200, status, json.ToString());
            Assert.AreEqual(2, json.GetProperty("weight_version").GetInt32());
            var (_, restored) = await server.PostAsync("v1/completions", body);
            CollectionAssert.AreEqual(before.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                restored.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), "the original weights again");

            // A bad tensor beside good ones: 400 naming it, nothing changes.
            string bad = Path.Combine(dir, "bad.safetensors");
            new SafetensorsWriter().Add(WeightNames.Layer(0, WeightNames.Down), WeightDType.F32, changed.First(t => t.Name == WeightNames.Layer(0, WeightNames.Down)).ToArray(),
                [.. original.Find(WeightNames.Layer(0, WeightNames.Down))!.Shape]).Add("model.layers.0.mlp.extra.weight", WeightDType.F32, new float[2], 2).Save(bad);
            (status, json) = await server.PostAsync("v1/update_weights", new { path = bad });
            Assert.AreEqual(400, status, json.ToString());
            StringAssert.Contains(json.ToString(), "model.layers.0.mlp.extra.weight is not a weight of this model");
            (_, json) = await server.PostAsync("v1/reset_prefix_cache", new { });
            Assert.AreEqual(2, json.GetProperty("weight_version").GetInt32(), "a refused update does not count");

            (status, json) = await server.PostAsync("v1/update_weights", new { path = Path.Combine(dir, "missing.safetensors") });
            Assert.AreEqual(400, status, json.ToString());
            (status, json) = await server.PostAsync("v1/update_weights", new { });
            Assert.AreEqual(400, status, json.ToString());
            (status, _) = await server.PostAsync("v1/completions", body);
            Assert.AreEqual(200, status, "the server keeps serving after a refused update");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
