using CommandLine;

namespace Paged.Cli;

/// <summary>Output formats of <c>paged generate</c>.</summary>
public enum OutputFormat
{
    Text,
    Jsonl,
}

/// <summary>A switch given as on or off.</summary>
public enum OnOff
{
    On,
    Off,
}

/// <summary>Options every verb that builds an engine shares.</summary>
public abstract class EngineVerbOptions
{
    [Option("model", Required = true, HelpText = "Model: a Hugging Face checkpoint directory (config.json + *.safetensors), a GGUF file or a llama2.c checkpoint (.bin).")]
    public string Model { get; set; } = "";

    [Option("tokenizer", HelpText = "Tokenizer file (llama2.c tokenizer.bin). Default: inside a GGUF, or tok<vocab>.bin / tokenizer.bin beside the model.")]
    public string? Tokenizer { get; set; }

    [Option("device", Default = "cpu", HelpText = "Backend: cpu, cuda, simt (CUDA kernels on the CPU emulator: slow, for checking kernels) or auto (cuda when a GPU is present, else cpu).")]
    public string Device { get; set; } = "cpu";

    [Option("threads", Default = 0, HelpText = "CPU worker threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("max-num-seqs", Default = 0, HelpText = "Most sequences running at once (default 64).")]
    public int MaxNumSeqs { get; set; }

    [Option("max-batch", Default = 0, HelpText = "Alias of --max-num-seqs.")]
    public int MaxBatch { get; set; }

    /// <summary>--max-num-seqs, else --max-batch, else 64.</summary>
    public int EffectiveMaxNumSeqs => MaxNumSeqs > 0 ? MaxNumSeqs : MaxBatch > 0 ? MaxBatch : 64;

    [Option("max-num-batched-tokens", Default = 2048, HelpText = "Most tokens in one forward pass (longer prompts are prefilled in chunks).")]
    public int MaxNumBatchedTokens { get; set; }

    [Option("block-size", Default = 16, HelpText = "Tokens per KV-cache block.")]
    public int BlockSize { get; set; }

    [Option("kv-blocks", Default = 0, HelpText = "KV-cache blocks (0 = from --kv-memory, or enough for every sequence at full context).")]
    public int KvBlocks { get; set; }

    [Option("kv-memory", HelpText = "KV-cache size, e.g. 512M or 2G (alternative to --kv-blocks).")]
    public string? KvMemory { get; set; }

    [Option("prefix-caching", Default = OnOff.On, HelpText = "Reuse the KV of cached prompt prefixes: on or off.")]
    public OnOff PrefixCaching { get; set; }

    [Option("chunked-prefill", Default = OnOff.On, HelpText = "Split long prompts into chunks that share steps with decodes: on or off.")]
    public OnOff ChunkedPrefill { get; set; }

    [Option("preemption", Default = Paged.Engine.PreemptionMode.Recompute, HelpText = "When KV blocks run out: recompute or swap.")]
    public Paged.Engine.PreemptionMode Preemption { get; set; }

    [Option("swap-space", HelpText = "Host memory for swapped-out KV blocks, e.g. 256M (default 256M with --preemption swap).")]
    public string? SwapSpace { get; set; }

    [Option("policy", Default = Paged.Engine.SchedulingPolicy.Fcfs, HelpText = "Scheduling policy: fcfs, priority (lower value first) or fair (virtual token counter per tenant).")]
    public Paged.Engine.SchedulingPolicy Policy { get; set; }

    [Option("batch-invariant", Default = false, HelpText = "Run every query token through one attention kernel, so a token's logprobs never depend on the rest of the batch (cpu: always so; simt/cuda: gives up the decode kernel and cuBLAS for the fixed-order SIMT GEMM). See docs/rollouts.md.")]
    public bool BatchInvariant { get; set; }

    [Option("cuda-graphs", Default = Paged.Engine.CudaGraphMode.Auto, HelpText = "Decode steps through captured graphs, one per batch-size bucket (1, 2, 4, 8, then multiples of 8): auto (on for cuda), on (cuda, simt) or off (eager, vLLM's --enforce-eager).")]
    public Paged.Engine.CudaGraphMode CudaGraphs { get; set; }

    [Option("kv-cache-dtype", Default = Paged.Engine.KvCacheDType.Auto, HelpText = "KV-cache element type: auto (= f32, the compute type), f32, bf16 or f16 (half types hold twice the blocks in the same memory).")]
    public Paged.Engine.KvCacheDType KvCacheDType { get; set; }

    [Option("tenant-weight", HelpText = "Fair policy share of a tenant, NAME=WEIGHT (repeat the option for several; default 1).")]
    public IEnumerable<string> TenantWeights { get; set; } = [];

    [Option("lora", HelpText = "A PEFT LoRA adapter to serve, NAME=PATH (adapter_config.json + adapter_model.safetensors); repeat for several. Requests pick one by NAME.")]
    public IEnumerable<string> Loras { get; set; } = [];

    [Option("max-loras", Default = 0, HelpText = "LoRA adapters resident in device slots at once (0: 4 when LoRA is in use, else off). Others wait for a slot (LRU eviction of unused adapters).")]
    public int MaxLoras { get; set; }

    [Option("max-lora-rank", Default = 16, HelpText = "Largest LoRA rank accepted (the size of a slot).")]
    public int MaxLoraRank { get; set; }

    [Option("lora-dtype", Default = Paged.Models.Lora.LoraDType.Auto, HelpText = "Adapter slot element type: auto (bf16 when the base weights are half, else f32), f32 or bf16 (half the bytes per step).")]
    public Paged.Models.Lora.LoraDType LoraDType { get; set; }

    /// <summary>Whether LoRA slots are wanted: adapters given, or the verb loads them at run time.</summary>
    public virtual bool WantsLora => MaxLoras > 0 || Loras.Any();
}

[Verb("generate", HelpText = "Generate text for one or more prompts with continuous batching.")]
public sealed class GenerateOptions : EngineVerbOptions
{
    [Value(0, MetaName = "PROMPT", HelpText = "Prompts (each argument is one prompt).")]
    public IEnumerable<string> Prompts { get; set; } = [];

    [Option("prompts-file", HelpText = "File with one prompt per line, or JSON objects per line (.jsonl) with a \"prompt\" (or \"prompt_ids\": [ids]) field and optional \"n\", \"priority\", \"tenant\", \"prompt_logprobs\" and \"lora\" (an adapter NAME given with --lora; absent: the base model).")]
    public string? PromptsFile { get; set; }

    [Option("prompt-ids", HelpText = "A prompt given as comma-separated token ids, e.g. 0,735,734 (repeat the option for several).")]
    public IEnumerable<string> PromptIds { get; set; } = [];

    [Option('n', "num-samples", Default = 1, HelpText = "Completions per prompt (parallel sampling; the prompt is prefilled once). Also --n N.")]
    public int N { get; set; }

    [Option("max-tokens", Default = 256, HelpText = "Most tokens to generate per prompt.")]
    public int MaxTokens { get; set; }

    [Option("temperature", HelpText = "Sampling temperature; 0 = greedy. Default: the model's generation_config.json, else 0 (greedy).")]
    public float? Temperature { get; set; }

    [Option("top-k", HelpText = "Keep the K most likely tokens (0 or -1 = off). Default: the model's generation_config.json, else 0 (off).")]
    public int? TopK { get; set; }

    [Option("top-p", HelpText = "Nucleus sampling threshold in (0, 1]. Default: the model's generation_config.json, else 1.")]
    public float? TopP { get; set; }

    [Option("min-p", HelpText = "Keep tokens at least this fraction as likely as the most likely one, in [0, 1] (0 = off). Default: the model's generation_config.json, else 0.")]
    public float? MinP { get; set; }

    [Option("repetition-penalty", HelpText = "Penalty (> 0) on tokens of the prompt and the output; 1 = off. Default: the model's generation_config.json, else 1.")]
    public float? RepetitionPenalty { get; set; }

    [Option("frequency-penalty", Default = 0f, HelpText = "Subtracted per occurrence in the output, in [-2, 2].")]
    public float FrequencyPenalty { get; set; }

    [Option("presence-penalty", Default = 0f, HelpText = "Subtracted once for tokens present in the output, in [-2, 2].")]
    public float PresencePenalty { get; set; }

    [Option("min-tokens", Default = 0, HelpText = "End-of-sequence is masked until this many tokens were generated.")]
    public int MinTokens { get; set; }

    [Option("logprobs", HelpText = "Return each generated token's logprob and its N most likely alternatives (0..20) in JSONL output.")]
    public int? Logprobs { get; set; }

    [Option("prompt-logprobs", HelpText = "Return each prompt token's logprob (given the tokens before it) and its N most likely alternatives (0..20) in JSONL output; such prompts skip the prefix cache.")]
    public int? PromptLogprobs { get; set; }

    [Option("processed-logprobs", Default = false, HelpText = "Logprobs after penalties, temperature and filters instead of the raw model distribution.")]
    public bool ProcessedLogprobs { get; set; }

    [Option("seed", HelpText = "Random seed (per request; the same seed gives the same text).")]
    public ulong? Seed { get; set; }

    [Option("stop", HelpText = "Stop string (repeat the option for several).")]
    public IEnumerable<string> Stop { get; set; } = [];

    [Option("format", Default = OutputFormat.Text, HelpText = "Output format: text or jsonl.")]
    public OutputFormat Format { get; set; }

    [Option("output", HelpText = "Write results to this file instead of stdout.")]
    public string? Output { get; set; }

    [Option("no-progress", Default = false, HelpText = "Show no progress (by default, with several prompts: a bar on a terminal, else periodic lines; always on stderr).")]
    public bool NoProgress { get; set; }

    [Option("progress-interval", Default = 5.0, HelpText = "Seconds between progress lines when stderr is not a terminal (0 = a line per finished request).")]
    public double ProgressInterval { get; set; }
}

[Verb("info", HelpText = "Print a model's configuration.")]
public sealed class InfoOptions
{
    [Option("model", Required = true, HelpText = "Model: checkpoint directory, .gguf or .bin.")]
    public string Model { get; set; } = "";

    [Option("tokenizer", HelpText = "Tokenizer file, as for generate.")]
    public string? Tokenizer { get; set; }
}

/// <summary>Benchmark suites of <c>paged bench</c>.</summary>
public enum BenchSuite
{
    Generate,
    Kernels,
    Throughput,
}

[Verb("bench", HelpText = "Measure speed: 'paged bench generate' (end to end), 'throughput' (offline, many requests), 'kernels' (each op, GB/s); 'paged bench serve' drives a server.")]
public sealed class BenchOptions : EngineVerbOptions
{
    [Value(0, MetaName = "SUITE", Required = true, HelpText = "What to measure: generate, throughput or kernels.")]
    public BenchSuite Suite { get; set; }

    [Option("batch", Default = 1, HelpText = "Concurrent sequences.")]
    public int Batch { get; set; }

    [Option("prompt-tokens", Default = 16, HelpText = "Prompt length of each sequence (random token ids).")]
    public int PromptTokens { get; set; }

    [Option("gen-tokens", Default = 128, HelpText = "Tokens generated per sequence.")]
    public int GenTokens { get; set; }

    [Option("runs", Default = 5, HelpText = "Timed runs; the median is reported.")]
    public int Runs { get; set; }

    [Option("warmup", Default = 1, HelpText = "Untimed runs first.")]
    public int Warmup { get; set; }

    [Option("num-prompts", Default = 256, HelpText = "bench throughput: requests.")]
    public int NumPrompts { get; set; }

    [Option("range-ratio", Default = 0.0, HelpText = "bench throughput: lengths uniform in [len*(1-r), len*(1+r)].")]
    public double RangeRatio { get; set; }

    [Option("static-batching", Default = false, HelpText = "bench throughput: run groups of --max-num-seqs requests, each to its longest, instead of continuous batching.")]
    public bool StaticBatching { get; set; }

    [Option("static-padding", Default = false, HelpText = "bench throughput --static-batching: a finished request's row keeps computing until its group's longest is done (a padded batch); only requested tokens count as output.")]
    public bool StaticPadding { get; set; }

    [Option("output-len-dist", Default = Paged.Cli.ServeBench.OutputLengthShape.Uniform, HelpText = "bench throughput: output lengths with mean --gen-tokens: uniform (--range-ratio), exponential or lognormal (long-tailed like ShareGPT; --output-len-sigma), clipped to the context.")]
    public Paged.Cli.ServeBench.OutputLengthShape OutputLenDist { get; set; }

    [Option("output-len-sigma", Default = 1.0, HelpText = "bench throughput: log-space sigma of --output-len-dist lognormal.")]
    public double OutputLenSigma { get; set; }

    [Option("workload-seed", Default = 12345, HelpText = "bench throughput: seed of the prompts and lengths.")]
    public int WorkloadSeed { get; set; }

    [Option("peak-gbs", Default = 0.0, HelpText = "bench kernels: the device's peak memory bandwidth in GB/s (0 = known GPUs by name).")]
    public double PeakGbs { get; set; }
}

[Verb("make-model", HelpText = "Write a llama2.c checkpoint with random weights of a known shape (for benchmarks).")]
public sealed class MakeModelOptions
{
    [Option("config", HelpText = "Shape: llama-3.2-1b, qwen2.5-0.5b, qwen3-0.6b, mistral-7b, tinyllama-1.1b, stories15M or stories110M (default stories110M).")]
    public string? Config { get; set; }

    [Option("shape", HelpText = "Alias of --config.")]
    public string? Shape { get; set; }

    [Option("from", HelpText = "Convert this model (.bin, .gguf or checkpoint directory) instead of writing random weights.")]
    public string? From { get; set; }

    [Option("format", Default = "llama2c", HelpText = "Output format: hf (config.json + model.safetensors), gguf or llama2c (model.bin + tokenizer.bin).")]
    public string Format { get; set; } = "llama2c";

    [Option("dtype", Default = "f32", HelpText = "Weight type: f32, bf16 or f16 (llama2c: f32 only).")]
    public string DType { get; set; } = "f32";

    [Option("out", Required = true, HelpText = "Directory to write the model into.")]
    public string Out { get; set; } = "";

    [Option("seed", Default = 1UL, HelpText = "Seed of the weights.")]
    public ulong Seed { get; set; }

    [Option("lora-rank", Default = 0, HelpText = "Write a random PEFT LoRA adapter of this rank for the shape (or --from model) instead of a model.")]
    public int LoraRank { get; set; }

    [Option("lora-targets", Default = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", HelpText = "With --lora-rank: comma-separated target modules.")]
    public string LoraTargets { get; set; } = "";

    [Option("lora-alpha", Default = 0.0, HelpText = "With --lora-rank: lora_alpha (default 2 x rank).")]
    public double LoraAlpha { get; set; }
}

[Verb("serve", HelpText = "Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics, /tokenize, /detokenize).")]
public sealed class ServeOptions : ApiVerbOptions
{
    [Option("host", Default = "127.0.0.1", HelpText = "Address to bind (an IP address or localhost; 0.0.0.0 exposes the server to the network).")]
    public string Host { get; set; } = "127.0.0.1";

    [Option("port", Default = 8000, HelpText = "TCP port (0 picks a free one; the bound address is printed).")]
    public int Port { get; set; }

    [Option("api-key", HelpText = "Require 'Authorization: Bearer KEY' on every /v1 route (default: the PAGED_API_KEY environment variable, else none).")]
    public string? ApiKey { get; set; }

    [Option("max-pending-requests", Default = 1024, HelpText = "Admission queue: requests waiting to start beyond this get 429 with Retry-After.")]
    public int MaxPendingRequests { get; set; }

    [Option("max-body-size", Default = "4M", HelpText = "Largest request body (413 beyond), e.g. 4M.")]
    public string MaxBodySize { get; set; } = "4M";

    [Option("role", Default = Paged.Server.ServeRole.Both, HelpText = "Disaggregated serving: prefill (computes prompts, holds their KV for decode instances to pull), decode (continues from pulled KV), or both (colocated). Every role still serves ordinary requests.")]
    public Paged.Server.ServeRole Role { get; set; }

    [Option("kv-transfer-port", HelpText = "Port of the gRPC listener decode instances pull KV blocks from, on --host (prefill and both; prefill default: a free port).")]
    public int? KvTransferPort { get; set; }

    [Option("kv-lease-seconds", Default = 30, HelpText = "How long a finished prefill keeps its KV blocks pinned when no decode instance acknowledges its pull.")]
    public int KvLeaseSeconds { get; set; }

    [Option("kv-load-failure-policy", Default = Paged.Server.KvLoadFailurePolicy.Recompute, HelpText = "When a KV pull fails on a decode instance: recompute (the prompt locally) or fail (the request).")]
    public Paged.Server.KvLoadFailurePolicy KvLoadFailurePolicy { get; set; }

    [Option("kv-transfer-timeout", Default = 30, HelpText = "Seconds a KV pull may take before it counts as failed.")]
    public int KvTransferTimeoutSeconds { get; set; }

    [Option("no-ui", HelpText = "Do not serve the web console at GET / (the API and /v1/status stay).")]
    public bool NoUi { get; set; }

    [Option("recent-requests", Default = 100, HelpText = "Finished requests kept for /v1/status and the console's request table.")]
    public int RecentRequests { get; set; }

    [Option("allow-weight-updates", Default = false, HelpText = "Accept POST /v1/update_weights {\"path\": FILE.safetensors} (RL trainers push new weights, all or some tensors; docs/rollouts.md).")]
    public bool AllowWeightUpdates { get; set; }

    [Option("allow-runtime-lora", HelpText = "Serve POST /v1/load_lora_adapter and /v1/unload_lora_adapter (gives LoRA slots: --max-loras defaults to 4).")]
    public bool AllowRuntimeLora { get; set; }

    [Option("lora-unload-timeout", Default = 30, HelpText = "Seconds an unload waits for the adapter's running requests before ending them.")]
    public int LoraUnloadTimeoutSeconds { get; set; }

    public override bool WantsLora => base.WantsLora || AllowRuntimeLora;
}
