using System.Text.Json;

namespace Paged.Cli.Tests;

/// <summary><c>--model DIR</c> (Hugging Face checkpoints) through the real program, and <c>make-model</c>'s formats.</summary>
[TestClass]
public sealed class HfModelCliTests
{
    private static readonly int[] ReferenceIds = [1135, 810, 864, 364, 841, 26, 754, 821, 1235, 726, 84, 1182];

    private static string TinyLlama3 => Path.Combine(CliRunner.Shared, "models", "hf-tiny", "tiny-llama3");

    [TestMethod]
    public void Generate_with_token_id_prompts_reproduces_the_reference_row()
    {
        // The first tiny-llama3 row of hf_tiny_reference.jsonl: its prompt ids and the first 12 greedy ids (margins > 1e-3).
        var r = CliRunner.Run("generate", "--model", TinyLlama3, "--prompt-ids", "0,735,734,263,589", "--max-tokens", "12", "--format", "jsonl");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        var ids = doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        CollectionAssert.AreEqual(ReferenceIds, ids);
    }

    [TestMethod]
    public void Text_prompt_without_a_loadable_tokenizer_is_a_clear_error()
    {
        // A checkpoint directory holding only config.json and weights: token ids work, text is refused with advice.
        string dir = Path.Combine(Path.GetTempPath(), "paged-cli-notok-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(dir);
            foreach (string f in new[] { "config.json", "generation_config.json", "model.safetensors" })
                File.Copy(Path.Combine(TinyLlama3, f), Path.Combine(dir, f));
            var r = CliRunner.Run("generate", "--model", dir, "Once upon a time");
            Assert.AreEqual(2, r.ExitCode);
            StringAssert.Contains(r.Stderr, "error: " + dir + ": no tokenizer could be loaded");
            StringAssert.Contains(r.Stderr, "--prompt-ids");
            var ids = CliRunner.Run("generate", "--model", dir, "--prompt-ids", "0,735,734,263,589", "--max-tokens", "3");
            Assert.AreEqual(0, ids.ExitCode, ids.Stderr);
            StringAssert.Contains(ids.Stdout, " 1135 810 864");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Info_describes_a_checkpoint_directory()
    {
        var r = CliRunner.Run("info", "--model", Path.Combine(CliRunner.Shared, "models", "hf-tiny", "tiny-qwen3"));
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "Qwen3ForCausalLM (q/k RMSNorm)");
        StringAssert.Contains(r.Stdout, "head size 16");
    }

    [TestMethod]
    public void Make_model_hf_bf16_then_bench_and_info_run_on_it()
    {
        string dir = Path.Combine(Path.GetTempPath(), "paged-cli-hf-" + Guid.NewGuid().ToString("N"));
        try
        {
            var made = CliRunner.Run("make-model", "--config", "stories15M", "--format", "hf", "--dtype", "bf16", "--out", dir);
            Assert.AreEqual(0, made.ExitCode, made.Stderr);
            Assert.IsTrue(File.Exists(Path.Combine(dir, "config.json")) && File.Exists(Path.Combine(dir, "model.safetensors")));
            Assert.IsTrue(File.Exists(Path.Combine(dir, "tokenizer.json")), "the synthetic vocabulary as tokenizer.json");
            var generated = CliRunner.Run("generate", "--model", dir, "--max-tokens", "3", "hello world");
            Assert.AreEqual(0, generated.ExitCode, generated.Stderr);
            var info = CliRunner.Run("info", "--model", dir);
            StringAssert.Contains(info.Stdout, "BF16 declared");
            var bench = CliRunner.Run("bench", "generate", "--model", dir, "--batch", "2", "--prompt-tokens", "4", "--gen-tokens", "4", "--runs", "1", "--warmup", "0");
            Assert.AreEqual(0, bench.ExitCode, bench.Stderr);
            StringAssert.Contains(bench.Stdout, "decode_tok_s=");
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Make_model_refuses_what_a_format_cannot_hold()
    {
        var r = CliRunner.Run("make-model", "--config", "qwen2.5-0.5b", "--format", "llama2c", "--out", Path.GetTempPath());
        Assert.AreEqual(2, r.ExitCode);
        StringAssert.Contains(r.Stderr, "a llama2.c checkpoint cannot express Qwen2ForCausalLM");
        var d = CliRunner.Run("make-model", "--config", "nope", "--out", Path.GetTempPath());
        StringAssert.Contains(d.Stderr, "unknown model shape 'nope'");
    }

    [TestMethod]
    public void Mistral_rows_through_the_engine_with_chunked_prefill_match_the_reference()
    {
        // The engine path: prompts chunked 7 tokens at a time into 8-token blocks, all rows batched, the sliding
        // window (24) spanning chunks and blocks; each row must give transformers' ids up to its first near-tie or EOS.
        var rows = File.ReadLines(Path.Combine(CliRunner.Shared, "golden", "hf_tiny_reference.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("model").GetString() == "tiny-mistral" && r.GetProperty("lora").ValueKind == JsonValueKind.Null)
            .ToList();
        Assert.HasCount(7, rows);
        string prompts = Path.Combine(Path.GetTempPath(), "paged-cli-mistral-" + Guid.NewGuid().ToString("N") + ".jsonl");
        try
        {
            File.WriteAllLines(prompts, rows.Select(r => $"{{\"prompt_ids\": {r.GetProperty("prompt_ids").GetRawText()}}}"));
            var run = CliRunner.Run("generate", "--model", Path.Combine(CliRunner.Shared, "models", "hf-tiny", "tiny-mistral"),
                "--prompts-file", prompts, "--max-tokens", "40", "--max-num-batched-tokens", "7", "--block-size", "8", "--format", "jsonl");
            Assert.AreEqual(0, run.ExitCode, run.Stderr);
            var outputs = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.HasCount(rows.Count, outputs);
            for (int i = 0; i < rows.Count; i++)
            {
                int[] expected = [.. rows[i].GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
                double[] margins = [.. rows[i].GetProperty("top2_logit_margins").EnumerateArray().Select(e => e.GetDouble())];
                int n = Array.FindIndex(margins, m => m < 1e-3);
                n = n < 0 ? expected.Length : n;
                int eos = Array.IndexOf(expected, 2);
                n = eos >= 0 ? Math.Min(n, eos + 1) : n;
                using var doc = JsonDocument.Parse(outputs[i]);
                int[] actual = [.. doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32())];
                Assert.IsGreaterThanOrEqualTo(n, actual.Length, $"row {i}: {actual.Length} tokens, {n} to compare");
                CollectionAssert.AreEqual(expected[..n], actual[..n], $"row {i}");
            }
        }
        finally
        {
            File.Delete(prompts);
        }
    }

    [TestMethod]
    public void Stories260K_converted_to_hf_tells_the_same_story()
    {
        // make-model --from permutes q/k for rotate-half RoPE; with the llama2.c tokenizer the converted checkpoint
        // must generate the .bin model's greedy text.
        string dir = Path.Combine(Path.GetTempPath(), "paged-cli-s260-" + Guid.NewGuid().ToString("N"));
        try
        {
            var made = CliRunner.Run("make-model", "--from", CliRunner.Model, "--format", "hf", "--out", dir);
            Assert.AreEqual(0, made.ExitCode, made.Stderr);
            Assert.IsTrue(File.Exists(Path.Combine(dir, "tokenizer.json")) && File.Exists(Path.Combine(dir, "tokenizer_config.json")));
            // The written tokenizer.json (converted from tok512.bin) is found by itself: no --tokenizer.
            var bin = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "60", "Once upon a time");
            var hf = CliRunner.Run("generate", "--model", dir, "--max-tokens", "60", "Once upon a time");
            Assert.AreEqual(0, hf.ExitCode, hf.Stderr);
            Assert.AreEqual(bin.Stdout, hf.Stdout);
            Assert.IsGreaterThan(100, hf.Stdout.Length, "a story, not an empty line");
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
