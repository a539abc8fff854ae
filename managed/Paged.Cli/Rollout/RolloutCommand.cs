using System.Text;
using System.Text.Json;
using Paged.Engine;

namespace Paged.Cli;

/// <summary>
/// <c>paged rollout</c>: one GRPO rollout round. Each prompt becomes one request with n = --group-size (the group
/// shares the prompt's KV blocks) and seed --seed + line index; every completion is scored by the reward rule, and
/// advantages are normalised within its group (<see cref="GroupAdvantages"/>). One JSONL record per completion, in
/// prompt then completion order; the format is in docs/rollouts.md.
/// </summary>
internal static class RolloutCommand
{
    public static int Run(RolloutOptions o)
    {
        var reward = RewardRule.Parse(o.Reward);
        if (o.GroupSize < 1)
            throw new ArgumentException($"--group-size must be at least 1 (got {o.GroupSize})");
        if (!(o.AdvantageEps >= 0))
            throw new ArgumentException($"--advantage-eps must be >= 0 (got {o.AdvantageEps})");
        var prompts = RolloutPrompt.Read(o.PromptsFile, reward.NeedsAnswer);
        var sampling = new SamplingParams
        {
            N = o.GroupSize, MaxTokens = o.MaxTokens, Temperature = o.Temperature, TopP = o.TopP, TopK = o.TopK,
            Logprobs = 0, ProcessedLogprobs = o.ProcessedLogprobs, Stop = [.. o.Stop],
        };
        sampling.Validate();
        using var engine = EngineFactory.CreateEngine(o, EngineFactory.ToEngineOptions(o), needsTokenizer: true);
        var requests = prompts.Select((p, i) => new GenerationRequest
        {
            Prompt = p.Prompt, PromptTokenIds = p.Ids, Sampling = sampling with { Seed = o.Seed + (ulong)i },
        }).ToList();
        var results = engine.Generate(requests);

        int records = 0;
        double rewardSum = 0;
        using (var output = new StreamWriter(o.Output, append: false, new UTF8Encoding(false)))
        {
            for (int g = 0; g < results.Count; g++)
            {
                var r = results[g];
                if (r.Error is not null)
                    throw new InvalidOperationException($"prompt {g + 1} failed: {r.Error}");
                var rewards = r.Completions.Select(c => reward.Score(c.Text, prompts[g].Answer)).ToArray();
                var advantages = GroupAdvantages.Compute(rewards, o.AdvantageEps);
                foreach (var c in r.Completions)
                {
                    WriteRecord(output, r, c, g, rewards[c.Index], advantages[c.Index]);
                    records++;
                    rewardSum += rewards[c.Index];
                }
            }
        }

        Console.Error.WriteLine(System.FormattableString.Invariant(
            $"rollout: {results.Count} groups of {o.GroupSize}, {records} records, mean reward {rewardSum / Math.Max(records, 1):F4} ({reward.Name}), weight version {engine.WeightVersion}; written to {o.Output}"));
        return 0;
    }

    private static void WriteRecord(StreamWriter output, RequestOutput r, CompletionOutput c, int group, double reward, double advantage)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("group_id", group);
            w.WriteNumber("sample_index", c.Index);
            w.WriteString("prompt", r.Prompt);
            GenerateCommand.WriteInts(w, "prompt_ids", r.PromptTokenIds);
            w.WriteString("completion", c.Text);
            GenerateCommand.WriteInts(w, "completion_ids", c.TokenIds);
            w.WriteStartArray("logprobs");
            foreach (var l in c.Logprobs ?? [])
            {
                if (float.IsFinite(l.Logprob))
                    w.WriteNumberValue(l.Logprob);
                else
                    w.WriteNullValue();
            }

            w.WriteEndArray();
            w.WriteNumber("reward", reward);
            w.WriteNumber("advantage", advantage);
            w.WriteNumber("seed", c.Seed);
            w.WriteNumber("weight_version", r.WeightVersion);
            w.WriteString("finish_reason", GenerateCommand.Reason(c.FinishReason));
            w.WriteEndObject();
        }

        output.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        output.Write('\n');
    }
}
