using System.Text.Json;
using Paged.Engine;

namespace Paged.Server.Tests;

/// <summary>
/// LoRA over HTTP on tiny-llama3 with its two PEFT adapters: runtime load and unload (behind AllowRuntimeLora),
/// the adapter picked with 'model', /v1/models listing adapters with their parent, bad adapters rejected with a
/// message naming the problem, and an unload while the adapter's requests run.
/// </summary>
[TestClass]
public sealed class LoraServerTests
{
    private static string TinyDir => Path.Combine(TestServer.Shared, "models", "hf-tiny");

    private static string Base => Path.Combine(TinyDir, "tiny-llama3");

    private static string LoraA => Path.Combine(TinyDir, "tiny-llama3-lora-a");

    private static Task<TestServer> StartAsync(bool allowRuntime = true) => TestServer.StartAsync(
        new ServerOptions { AllowRuntimeLora = allowRuntime, LoraUnloadTimeout = TimeSpan.Zero },
        TestServer.DefaultEngineOptions with { MaxLoras = 2, MaxLoraRank = 16 }, modelPath: Base);

    private static object Completion(string model, int maxTokens) => new
    {
        model, prompt = new[] { 0, 735, 734, 263, 589 }, max_tokens = maxTokens, temperature = 0, ignore_eos = true,
        return_token_ids = true,
    };

    private static int[] Ids(JsonElement body) =>
        [.. body.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32())];

    [TestMethod]
    public async Task Load_pick_list_and_unload()
    {
        await using var s = await StartAsync();
        var (status, body) = await s.PostAsync("v1/load_lora_adapter", new { lora_name = "a", lora_path = LoraA });
        Assert.AreEqual(200, status, body.ToString());
        var models = JsonDocument.Parse(await s.Http.GetStringAsync("v1/models")).RootElement.GetProperty("data");
        Assert.AreEqual(2, models.GetArrayLength());
        Assert.AreEqual("a", models[1].GetProperty("id").GetString());
        Assert.AreEqual(TestServer.ModelName, models[1].GetProperty("parent").GetString());

        var (st1, withA) = await s.PostAsync("v1/completions", Completion("a", 8));
        var (st2, plain) = await s.PostAsync("v1/completions", Completion(TestServer.ModelName, 8));
        Assert.AreEqual(200, st1, withA.ToString());
        Assert.AreEqual(200, st2, plain.ToString());
        Assert.AreEqual("a", withA.GetProperty("model").GetString());
        // The PEFT reference (hf_tiny_reference.jsonl): "Once upon a time" starts 1135, 101, 1273 under lora-a
        // (margins 0.68, 0.55, 0.20: far from a tie) and 1135, 810, 864 on the base model.
        CollectionAssert.AreEqual(new[] { 1135, 101, 1273 }, Ids(withA)[..3]);
        CollectionAssert.AreEqual(new[] { 1135, 810, 864 }, Ids(plain)[..3]);

        (status, body) = await s.PostAsync("v1/unload_lora_adapter", new { lora_name = "a" });
        Assert.AreEqual(200, status, body.ToString());
        (status, body) = await s.PostAsync("v1/completions", Completion("a", 4));
        Assert.AreEqual(404, status, body.ToString());
        (status, _) = await s.PostAsync("v1/unload_lora_adapter", new { lora_name = "a" });
        Assert.AreEqual(404, status);
    }

    [TestMethod]
    public async Task Bad_adapters_are_rejected_and_the_server_keeps_serving()
    {
        await using var s = await StartAsync();
        string dir = Path.Combine(Path.GetTempPath(), $"paged-lora-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(dir);
            File.Copy(Path.Combine(LoraA, "adapter_model.safetensors"), Path.Combine(dir, "adapter_model.safetensors"));
            string config = File.ReadAllText(Path.Combine(LoraA, "adapter_config.json"));
            (string Config, string Expected)[] cases =
            [
                (config.Replace("\"use_dora\": false", "\"use_dora\": true", StringComparison.Ordinal), "DoRA"),
                (config.Replace("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", StringComparison.Ordinal), "modules_to_save"),
                (config.Replace("\"r\": 8", "\"r\": 32", StringComparison.Ordinal), "max LoRA rank 16"),
                (config.Replace("\"r\": 8", "\"r\": 4", StringComparison.Ordinal), "lora_A.weight has shape [8, 64]; expected [4, 64]"),
                (config.Replace("\"o_proj\",", "\"o_proj\", \"embed_tokens\",", StringComparison.Ordinal), "target module 'embed_tokens'"),
                (config.Replace("\"o_proj\",", "", StringComparison.Ordinal), "o_proj.lora_A.weight is not a lora_A/lora_B weight of a listed target"),
            ];
            foreach (var (text, expected) in cases)
            {
                File.WriteAllText(Path.Combine(dir, "adapter_config.json"), text);
                var (status, body) = await s.PostAsync("v1/load_lora_adapter", new { lora_name = "bad", lora_path = dir });
                Assert.AreEqual(400, status, body.ToString());
                StringAssert.Contains(body.GetProperty("error").GetProperty("message").GetString(), expected);
            }

            var (st, missing) = await s.PostAsync("v1/load_lora_adapter", new { lora_name = "bad", lora_path = Path.Combine(dir, "nope") });
            Assert.AreEqual(400, st);
            StringAssert.Contains(missing.GetProperty("error").GetProperty("message").GetString(), "adapter directory not found");
            var (unknown, _) = await s.PostAsync("v1/completions", Completion("bad", 2));
            Assert.AreEqual(404, unknown);
            var (ok, _) = await s.PostAsync("v1/completions", Completion(TestServer.ModelName, 2));
            Assert.AreEqual(200, ok);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public async Task Runtime_loading_is_off_without_the_flag()
    {
        await using var s = await StartAsync(allowRuntime: false);
        var (status, body) = await s.PostAsync("v1/load_lora_adapter", new { lora_name = "a", lora_path = LoraA });
        Assert.AreEqual(403, status);
        StringAssert.Contains(body.ToString(), "--allow-runtime-lora");
    }

    // Unload while the adapter's requests run: new requests for it get 404 at once; the running ones are ended with
    // an error naming the adapter (500 engine_error; the timeout is 0), or finish whole; base-model requests are untouched. The gate
    // lets the engine take one step at a time so the requests are still running when the unload ends them.
    [TestMethod]
    public async Task Unload_under_load_ends_the_adapters_requests_cleanly()
    {
        await using var s = await StartAsync();
        Assert.AreEqual(200, (await s.PostAsync("v1/load_lora_adapter", new { lora_name = "a", lora_path = LoraA })).Status);
        s.Gate.Close();
        var adapterCalls = Enumerable.Range(0, 3).Select(_ => s.PostAsync("v1/completions", Completion("a", 100))).ToList();
        var baseCalls = Enumerable.Range(0, 3).Select(_ => s.PostAsync("v1/completions", Completion(TestServer.ModelName, 100))).ToList();
        await s.Gate.Blocked.WaitAsync(TimeSpan.FromSeconds(60));
        var unload = s.PostAsync("v1/unload_lora_adapter", new { lora_name = "a" });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (s.Engine.Adapters.Find("a") is not null && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.AreEqual(404, (await s.PostAsync("v1/completions", Completion("a", 4))).Status, "a new request for an unloading adapter");
        while (!unload.IsCompleted && DateTime.UtcNow < deadline)
        {
            s.Gate.Release(1); // one step: the engine reads the unload's commands between steps
            await Task.WhenAny(unload, Task.Delay(20));
        }

        var (status, body) = await unload;
        Assert.AreEqual(200, status, body.ToString());
        s.Gate.Open();
        int ended = 0;
        foreach (var call in adapterCalls)
        {
            var (st, b) = await call;
            if (st == 200 && b.GetProperty("usage").GetProperty("completion_tokens").GetInt32() == 100)
                continue; // used the adapter to the end
            if (st == 404)
            {
                // not yet validated when the unload began: the name no longer resolves
                Assert.AreEqual("model_not_found", b.GetProperty("error").GetProperty("code").GetString(), b.ToString());
                continue;
            }

            ended++;
            Assert.IsTrue(st is 400 or 500, b.ToString());
            StringAssert.Contains(b.GetProperty("error").GetProperty("message").GetString(), "the LoRA adapter 'a' was unloaded", b.ToString());
        }

        // Requests that reached the engine before the unload were ended by it; any validated but still in flight to the
        // engine thread then failed when it took them (the adapter was gone): both with the message above.
        Assert.IsLessThanOrEqualTo(ended, body.GetProperty("ended_requests").GetInt32());
        Assert.IsGreaterThanOrEqualTo(1, body.GetProperty("ended_requests").GetInt32(), "the engine held at least the first request");
        foreach (var call in baseCalls)
        {
            var (st, b) = await call;
            Assert.AreEqual(200, st, b.ToString());
            Assert.AreEqual(100, b.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
    }
}
