using System.Text.Json;

namespace Paged.Cli.Tests;

[TestClass]
public sealed class CliTests
{
    private static void AssertCleanError(CliRunner.Result r, string phrase)
    {
        Assert.AreNotEqual(0, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stderr, phrase);
        Assert.DoesNotContain("   at ", r.Stderr, "no stack trace");
        Assert.DoesNotContain("Unhandled exception", r.Stderr);
    }

    [TestMethod]
    public void Help_ExitsZero()
    {
        var r = CliRunner.Run("--help");
        Assert.AreEqual(0, r.ExitCode);
        StringAssert.Contains(r.Stdout, "generate");
        r = CliRunner.Run("generate", "--help");
        Assert.AreEqual(0, r.ExitCode);
        StringAssert.Contains(r.Stdout, "--max-tokens");
    }

    [TestMethod]
    public void UnknownOption_FailsWithItsName() => AssertCleanError(CliRunner.Run("generate", "--model", CliRunner.Model, "--bogus", "x"), "bogus");

    [TestMethod]
    public void UnknownVerb_Fails() => AssertCleanError(CliRunner.Run("frobnicate"), "frobnicate");

    [TestMethod]
    public void MissingModel_FailsNamingTheFile() =>
        AssertCleanError(CliRunner.Run("generate", "--model", "/nonexistent/model.bin", "hi"), "/nonexistent/model.bin");

    [TestMethod]
    public void NonPositiveMaxTokens_Fails() =>
        AssertCleanError(CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "0", "hi"), "max_tokens");

    [TestMethod]
    public void BadEnumValue_Fails() =>
        AssertCleanError(CliRunner.Run("generate", "--model", CliRunner.Model, "--format", "xml", "hi"), "format");

    [TestMethod]
    public void CorruptModel_FailsNamingTheProblem()
    {
        string dir = Directory.CreateTempSubdirectory("paged-cli-").FullName;
        try
        {
            string bad = Path.Combine(dir, "stories260K.bin");
            var bytes = File.ReadAllBytes(CliRunner.Model);
            File.WriteAllBytes(bad, bytes[..(bytes.Length / 2)]);
            File.Copy(Path.Combine(CliRunner.Shared, "models", "stories260K", "tok512.bin"), Path.Combine(dir, "tok512.bin"));
            AssertCleanError(CliRunner.Run("generate", "--model", bad, "hi"), "truncated");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestMethod]
    public void Generate_JsonlFromPromptsFile_KeepsInputOrderAndFields()
    {
        string dir = Directory.CreateTempSubdirectory("paged-cli-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.jsonl");
            File.WriteAllLines(prompts, ["{\"prompt\": \"Once upon a time\"}", "", "{\"prompt\": \"Zoo\"}", "{\"prompt\": \"The cat sat on the mat and\"}"]);
            string output = Path.Combine(dir, "out.jsonl");
            var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--prompts-file", prompts, "--format", "JSONL",
                "--max-tokens", "20", "--output", output);
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            StringAssert.Contains(r.Stderr, "tok/s");
            var lines = File.ReadAllLines(output);
            Assert.HasCount(3, lines);
            string[] expectedPrompts = ["Once upon a time", "Zoo", "The cat sat on the mat and"];
            for (int i = 0; i < 3; i++)
            {
                using var doc = JsonDocument.Parse(lines[i]);
                var o = doc.RootElement;
                Assert.AreEqual(expectedPrompts[i], o.GetProperty("prompt").GetString());
                Assert.AreEqual(1, o.GetProperty("prompt_token_ids")[0].GetInt32(), "BOS first");
                int n = o.GetProperty("token_ids").GetArrayLength();
                Assert.IsTrue(n is >= 1 and <= 20);
                string reason = o.GetProperty("finish_reason").GetString()!;
                Assert.AreEqual(n == 20 ? "length" : "stop", reason);
                Assert.AreEqual(JsonValueKind.Null, o.GetProperty("stop_reason").ValueKind, "no stop string was given");
                Assert.IsTrue(o.GetProperty("timings").TryGetProperty("ttft_s", out _));
                Assert.IsFalse(string.IsNullOrEmpty(o.GetProperty("text").GetString()));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestMethod]
    public void Generate_StopString_IsCutAndReportedAsStopReason()
    {
        var full = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "60", "--format", "jsonl", "Once upon a time");
        Assert.AreEqual(0, full.ExitCode, full.Stderr);
        string text = JsonDocument.Parse(full.Stdout).RootElement.GetProperty("text").GetString()!;
        int at = text.IndexOf("Lily", StringComparison.Ordinal);
        Assert.IsGreaterThan(0, at, "the greedy story names Lily");
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "60", "--stop", "Lily", "--format", "jsonl", "Once upon a time");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var o = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.AreEqual(text[..at], o.GetProperty("text").GetString());
        Assert.AreEqual("stop", o.GetProperty("finish_reason").GetString());
        Assert.AreEqual("Lily", o.GetProperty("stop_reason").GetString());
        Assert.AreEqual("Lily", o.GetProperty("completions")[0].GetProperty("stop_reason").GetString());
    }

    [TestMethod]
    public void Generate_SchedulerOptionsAndPerPromptFields()
    {
        string dir = Directory.CreateTempSubdirectory("paged-cli-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.jsonl");
            File.WriteAllLines(prompts, [
                "{\"prompt\": \"Once upon a time\", \"n\": 3, \"tenant\": \"a\"}",
                "{\"prompt\": \"Zoo\", \"priority\": 1, \"tenant\": \"b\"}",
            ]);
            string output = Path.Combine(dir, "out.jsonl");
            var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--prompts-file", prompts, "--format", "jsonl", "--output", output,
                "--max-tokens", "12", "--temperature", "1", "--seed", "5", "--n", "2", "--block-size", "8", "--max-num-seqs", "4",
                "--max-num-batched-tokens", "16", "--prefix-caching", "off", "--chunked-prefill", "on", "--preemption", "swap",
                "--swap-space", "1M", "--kv-blocks", "6", "--policy", "fair", "--tenant-weight", "a=2");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            var lines = File.ReadAllLines(output);
            Assert.HasCount(2, lines);
            using var first = JsonDocument.Parse(lines[0]);
            using var second = JsonDocument.Parse(lines[1]);
            Assert.AreEqual(3, first.RootElement.GetProperty("completions").GetArrayLength(), "per-prompt n wins");
            Assert.AreEqual(2, second.RootElement.GetProperty("completions").GetArrayLength(), "--n applies otherwise");
            var c0 = first.RootElement.GetProperty("completions")[0];
            Assert.AreEqual(first.RootElement.GetProperty("text").GetString(), c0.GetProperty("text").GetString());

            var bad = CliRunner.Run("generate", "--model", CliRunner.Model, "--policy", "lottery", "hi");
            AssertCleanError(bad, "policy");
            AssertCleanError(CliRunner.Run("generate", "hi", "--model", CliRunner.Model, "--tenant-weight", "a=-1"), "tenant-weight");
            AssertCleanError(CliRunner.Run("generate", "--model", CliRunner.Model, "--n", "0", "hi"), "n must be");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestMethod]
    public void Generate_TextMatchesTheGoldenStory()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "252", "Once upon a time");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadLines(Path.Combine(CliRunner.Shared, "golden", "stories260K_greedy.jsonl")).First());
        // The reference text is prompt + completion + "\n" (run.c's final newline); text output ends each story with a blank line.
        Assert.AreEqual(doc.RootElement.GetProperty("text").GetString() + "\n", r.Stdout);
    }

    [TestMethod]
    public void Generate_JsonlWithLogprobs_HasOneEntryPerToken()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "8", "--format", "jsonl", "--temperature", "0.8",
            "--top-k", "40", "--top-p", "0.9", "--min-p", "0.02", "--seed", "7", "--repetition-penalty", "1.1", "--frequency-penalty", "0.1",
            "--presence-penalty", "0.1", "--logprobs", "3", "Once upon a time");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        var ids = doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var lps = doc.RootElement.GetProperty("logprobs").EnumerateArray().ToArray();
        Assert.AreEqual(ids.Length, lps.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.AreEqual(ids[i], lps[i].GetProperty("token").GetInt32());
            Assert.IsTrue(lps[i].GetProperty("logprob").GetDouble() <= 0);
            Assert.AreEqual(3, lps[i].GetProperty("top").GetArrayLength());
            // rank: 1 + tokens with a larger logprob, so at least 1 + the top entries above this token's logprob
            double own = lps[i].GetProperty("logprob").GetDouble();
            int above = lps[i].GetProperty("top").EnumerateArray().Count(t => t.GetProperty("logprob").GetDouble() > own);
            Assert.IsGreaterThanOrEqualTo(1 + above, lps[i].GetProperty("rank").GetInt32());
            Assert.AreEqual(2, lps[i].GetProperty("top")[1].GetProperty("rank").GetInt32());
        }

        var again = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "8", "--format", "jsonl", "--temperature", "0.8",
            "--top-k", "40", "--top-p", "0.9", "--min-p", "0.02", "--seed", "7", "--repetition-penalty", "1.1", "--frequency-penalty", "0.1",
            "--presence-penalty", "0.1", "--logprobs", "3", "Once upon a time");
        using var doc2 = JsonDocument.Parse(again.Stdout.Trim());
        Assert.AreEqual(doc.RootElement.GetProperty("token_ids").GetRawText(), doc2.RootElement.GetProperty("token_ids").GetRawText(), "same seed, same tokens");
        Assert.AreEqual(doc.RootElement.GetProperty("logprobs").GetRawText(), doc2.RootElement.GetProperty("logprobs").GetRawText(), "same seed, same logprobs");
    }

    [TestMethod]
    public void Generate_RejectsBadSamplingParameters()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--min-p", "2", "Once");
        Assert.AreNotEqual(0, r.ExitCode);
        StringAssert.Contains(r.Stderr, "min_p");
        r = CliRunner.Run("generate", "--model", CliRunner.Model, "--logprobs", "25", "Once");
        Assert.AreNotEqual(0, r.ExitCode);
        StringAssert.Contains(r.Stderr, "logprobs");
    }

    [TestMethod]
    public void Info_PrintsTheConfiguration()
    {
        var r = CliRunner.Run("info", "--model", Path.Combine(CliRunner.Shared, "models", "stories260K", "stories260K.gguf"));
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "dim:           64");
        StringAssert.Contains(r.Stdout, "layers:        5");
        StringAssert.Contains(r.Stdout, "kv heads 4");
    }

    [TestMethod]
    public void Device_Simt_GeneratesTheSameTextAsCpu()
    {
        var cpu = CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "cpu", "--max-tokens", "30", "Once upon a time");
        var simt = CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "simt", "--max-tokens", "30", "Once upon a time");
        Assert.AreEqual(0, cpu.ExitCode, cpu.Stderr);
        Assert.AreEqual(0, simt.ExitCode, simt.Stderr);
        StringAssert.Contains(simt.Stderr, "simt");
        Assert.AreEqual(cpu.Stdout, simt.Stdout);
    }

    [TestMethod]
    public void Device_CudaWithoutGpu_FailsWithAClearMessage()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "cuda", "--max-tokens", "30", "Once upon a time");
        if (r.ExitCode == 0)
        {
            // A usable GPU is present: the cuda backend ran, and must give the CPU's text.
            var cpu = CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "cpu", "--max-tokens", "30", "Once upon a time");
            Assert.AreEqual(0, cpu.ExitCode, cpu.Stderr);
            Assert.AreEqual(cpu.Stdout, r.Stdout, "cuda and cpu tokens");
            return;
        }

        Assert.AreEqual(2, r.ExitCode, r.Stderr);
        StringAssert.StartsWith(r.Stderr, "error: ");
        Assert.IsTrue(r.Stderr.Contains("CUDA", StringComparison.Ordinal) || r.Stderr.Contains("cuda", StringComparison.Ordinal), r.Stderr);
        Assert.IsFalse(r.Stderr.Contains("   at ", StringComparison.Ordinal), "no stack trace: " + r.Stderr);
    }

    [TestMethod]
    public void Device_Auto_SaysWhichBackendItChose()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "auto", "--max-tokens", "5", "Once");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stderr, "device auto: using ");
    }

    [TestMethod]
    public void Device_Unknown_ListsTheChoices() =>
        AssertCleanError(CliRunner.Run("generate", "--model", CliRunner.Model, "--device", "tpu", "hi"), "cpu, cuda, simt or auto");

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void BenchKernels_TimesEveryOp(string device)
    {
        var r = CliRunner.Run("bench", "kernels", "--model", CliRunner.Model, "--device", device, "--batch", "2", "--prompt-tokens", "40", "--runs", "1", "--warmup", "0");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        foreach (string op in new[] { "embedding", "rmsnorm+residual", "rope", "silu_mul", "cache_write", "attention_decode", "attention_prefill", "block_copy", "argmax", "matmul" })
            StringAssert.Contains(r.Stdout, op + " ");
        StringAssert.Contains(r.Stdout, "GB/s");
    }
}
