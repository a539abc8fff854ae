using CommandLine;

namespace Paged.Cli;

[Verb("rollout", HelpText = "RL rollouts: for each prompt of a JSONL file, sample a group of completions with logprobs, score them with a reward rule and write group-normalised advantages as JSONL (docs/rollouts.md).")]
public sealed class RolloutOptions : EngineVerbOptions
{
    [Option("prompts-file", Required = true, HelpText = "JSONL: one object per line with \"prompt\" (or \"prompt_ids\") and an optional \"answer\" (for --reward exact/contains).")]
    public string PromptsFile { get; set; } = "";

    [Option("output", Required = true, HelpText = "Where the rollout records go (JSONL, one line per completion).")]
    public string Output { get; set; } = "";

    [Option("group-size", Default = 4, HelpText = "Completions per prompt (one GRPO group; they share the prompt's KV blocks).")]
    public int GroupSize { get; set; }

    [Option("reward", Default = "exact", HelpText = "Reward rule: exact (completion equals \"answer\", trimmed), contains (completion contains \"answer\") or regex:PATTERN (the completion matches PATTERN). 1 or 0.")]
    public string Reward { get; set; } = "exact";

    [Option("advantage-eps", Default = 1e-4, HelpText = "eps in advantage = (reward - group mean) / (group std + eps).")]
    public double AdvantageEps { get; set; }

    [Option("max-tokens", Default = 128, HelpText = "Most tokens per completion.")]
    public int MaxTokens { get; set; }

    [Option("temperature", Default = 1f, HelpText = "Sampling temperature.")]
    public float Temperature { get; set; }

    [Option("top-p", Default = 1f, HelpText = "Nucleus sampling threshold in (0, 1].")]
    public float TopP { get; set; }

    [Option("top-k", Default = 0, HelpText = "Keep the K most likely tokens (0 = off).")]
    public int TopK { get; set; }

    [Option("processed-logprobs", Default = false, HelpText = "Record logprobs of the processed distribution (after temperature and filters) instead of the raw model distribution.")]
    public bool ProcessedLogprobs { get; set; }

    [Option("seed", Default = 0UL, HelpText = "Base seed: group i samples with seed + i (each completion's own seed is recorded).")]
    public ulong Seed { get; set; }

    [Option("stop", HelpText = "Stop string (repeat the option for several).")]
    public IEnumerable<string> Stop { get; set; } = [];
}
