using System.Text.Json;

namespace Paged.Cli.Tests;

/// <summary><c>generate --lora NAME=PATH</c> with a JSONL prompts file whose lines pick adapters, and <c>make-model --lora-rank</c>.</summary>
[TestClass]
public sealed class LoraCliTests
{
    private static readonly int[] WithA = [1135, 101, 1273];
    private static readonly int[] Plain = [1135, 810, 864];

    private static string HfTiny => Path.Combine(CliRunner.Shared, "models", "hf-tiny");

    // One run, one batch: the same prompt under lora-a, lora-b and the base model. Expected: the first three ids of
    // the PEFT / transformers reference rows for "Once upon a time" (margins all above 0.2: no near-tie).
    [TestMethod]
    public void Prompts_file_lines_pick_adapters_in_one_run()
    {
        string file = Path.Combine(Path.GetTempPath(), $"paged-lora-{Guid.NewGuid():N}.jsonl");
        try
        {
            File.WriteAllLines(file,
            [
                """{"prompt_ids": [0, 735, 734, 263, 589], "lora": "a"}""",
                """{"prompt_ids": [0, 735, 734, 263, 589]}""",
                """{"prompt_ids": [0, 735, 734, 263, 589], "lora": "b"}""",
            ]);
            var r = CliRunner.Run("generate", "--model", Path.Combine(HfTiny, "tiny-llama3"), "--prompts-file", file, "--max-tokens", "3",
                "--format", "jsonl", "--lora", $"a={Path.Combine(HfTiny, "tiny-llama3-lora-a")}", "--lora", $"b={Path.Combine(HfTiny, "tiny-llama3-lora-b")}");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            var ids = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToList();
            Assert.HasCount(3, ids);
            CollectionAssert.AreEqual(WithA, ids[0]);
            CollectionAssert.AreEqual(Plain, ids[1]);
            CollectionAssert.AreEqual(Plain, ids[2]); // lora-b (q/v only) keeps the base model's first three

            File.WriteAllLines(file, ["""{"prompt_ids": [0, 735], "lora": "nope"}"""]);
            var bad = CliRunner.Run("generate", "--model", Path.Combine(HfTiny, "tiny-llama3"), "--prompts-file", file, "--max-tokens", "3");
            Assert.AreNotEqual(0, bad.ExitCode);
            StringAssert.Contains(bad.Stderr, "unknown LoRA adapter 'nope'");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void Make_model_writes_a_random_adapter_that_loads()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"paged-lora-{Guid.NewGuid():N}");
        try
        {
            var w = CliRunner.Run("make-model", "--from", Path.Combine(HfTiny, "tiny-llama3"), "--lora-rank", "4", "--lora-targets", "q_proj,down_proj", "--out", dir);
            Assert.AreEqual(0, w.ExitCode, w.Stderr);
            var r = CliRunner.Run("generate", "--model", Path.Combine(HfTiny, "tiny-llama3"), "--prompt-ids", "0,735,734", "--max-tokens", "2", "--lora", $"x={dir}");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            var tooBig = CliRunner.Run("generate", "--model", Path.Combine(HfTiny, "tiny-llama3"), "--prompt-ids", "0,735", "--max-tokens", "2",
                "--lora", $"x={dir}", "--max-lora-rank", "2");
            Assert.AreNotEqual(0, tooBig.ExitCode);
            StringAssert.Contains(tooBig.Stderr, "r = 4 exceeds the engine's max LoRA rank 2");
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
