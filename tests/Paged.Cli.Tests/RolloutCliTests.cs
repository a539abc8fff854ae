using System.Text.Json;
using System.Text.RegularExpressions;
using Paged.Engine;

namespace Paged.Cli.Tests;

/// <summary>
/// `paged rollout` end to end on stories260K, and the rollout fields of `paged generate` JSONL (prompt logprobs,
/// weight version, per-completion seeds). Advantages are recomputed here from the written rewards with TRL's formula.
/// </summary>
[TestClass]
public sealed class RolloutCliTests
{
    private const int GroupSize = 4;

    [TestMethod]
    public void Rollout_writes_groups_with_logprobs_rewards_and_normalised_advantages()
    {
        string dir = Directory.CreateTempSubdirectory("paged-rollout-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.jsonl");
            File.WriteAllLines(prompts, [
                """{"prompt": "Once upon a time"}""",
                """{"prompt": "The little dog"}""",
                """{"prompt": "Lily and Tom went to the park"}""",
            ]);
            string output = Path.Combine(dir, "rollouts.jsonl");
            var r = CliRunner.Run("rollout", "--model", CliRunner.Model, "--prompts-file", prompts, "--output", output,
                "--group-size", $"{GroupSize}", "--reward", "regex:\\b(was|she)\\b", "--max-tokens", "24", "--seed", "40");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            StringAssert.Contains(r.Stderr, "3 groups of 4");

            var records = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.HasCount(3 * GroupSize, records);
            var pattern = new Regex(@"\b(was|she)\b");
            foreach (var group in records.GroupBy(e => e.GetProperty("group_id").GetInt32()))
            {
                var members = group.OrderBy(e => e.GetProperty("sample_index").GetInt32()).ToList();
                Assert.HasCount(GroupSize, members);
                var rewards = members.Select(e => e.GetProperty("reward").GetDouble()).ToArray();
                double mean = rewards.Average();
                double std = Math.Sqrt(rewards.Sum(x => (x - mean) * (x - mean)) / (GroupSize - 1));
                for (int i = 0; i < GroupSize; i++)
                {
                    var e = members[i];
                    string completion = e.GetProperty("completion").GetString()!;
                    Assert.AreEqual(pattern.IsMatch(completion) ? 1.0 : 0.0, rewards[i], $"reward of '{completion}'");
                    Assert.AreEqual((rewards[i] - mean) / (std + 1e-4), e.GetProperty("advantage").GetDouble(), 1e-9);
                    int ids = e.GetProperty("completion_ids").GetArrayLength();
                    Assert.AreEqual(ids, e.GetProperty("logprobs").GetArrayLength(), "one sampling logprob per completion token");
                    Assert.IsTrue(e.GetProperty("logprobs").EnumerateArray().All(l => l.GetDouble() <= 0));
                    Assert.IsGreaterThan(0, e.GetProperty("prompt_ids").GetArrayLength());
                    Assert.AreEqual(Request.DeriveSeed(40 + (ulong)group.Key, i), e.GetProperty("seed").GetUInt64());
                    Assert.AreEqual(0, e.GetProperty("weight_version").GetInt32());
                }
            }

            Assert.IsGreaterThan(1, records.Select(e => e.GetProperty("completion").GetString()).Distinct().Count(), "groups sample different completions");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Rollout_rejects_a_missing_answer_and_a_bad_pattern()
    {
        string dir = Directory.CreateTempSubdirectory("paged-rollout-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.jsonl");
            File.WriteAllLines(prompts, ["""{"prompt": "a", "answer": "b"}""", """{"prompt": "c"}"""]);
            string output = Path.Combine(dir, "out.jsonl");
            var r = CliRunner.Run("rollout", "--model", CliRunner.Model, "--prompts-file", prompts, "--output", output, "--reward", "exact");
            Assert.AreEqual(2, r.ExitCode);
            StringAssert.Contains(r.Stderr, "prompts.jsonl:2");
            StringAssert.Contains(r.Stderr, "answer");
            r = CliRunner.Run("rollout", "--model", CliRunner.Model, "--prompts-file", prompts, "--output", output, "--reward", "regex:(");
            Assert.AreEqual(2, r.ExitCode);
            StringAssert.Contains(r.Stderr, "regular expression");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Generate_jsonl_carries_prompt_logprobs_weight_version_and_seeds()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--format", "jsonl", "--max-tokens", "4", "--prompt-logprobs", "2",
            "--temperature", "1", "--seed", "9", "-n", "2", "Once upon a time");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var line = JsonDocument.Parse(r.Stdout.Trim()).RootElement;
        var lps = line.GetProperty("prompt_logprobs");
        Assert.AreEqual(line.GetProperty("prompt_token_ids").GetArrayLength(), lps.GetArrayLength());
        Assert.AreEqual(JsonValueKind.Null, lps[0].ValueKind);
        Assert.AreEqual(2, lps[1].GetProperty("top").GetArrayLength());
        Assert.AreEqual(line.GetProperty("prompt_token_ids")[1].GetInt32(), lps[1].GetProperty("token").GetInt32());
        Assert.AreEqual(0, line.GetProperty("weight_version").GetInt32());
        var completions = line.GetProperty("completions");
        Assert.AreEqual(9UL, completions[0].GetProperty("seed").GetUInt64());
        Assert.AreEqual(Request.DeriveSeed(9, 1), completions[1].GetProperty("seed").GetUInt64());
    }
}
