using System.Globalization;
using System.Text.Json;
using Paged.Engine;

namespace Paged.Server;

/// <summary>The fields /v1/completions and /v1/chat/completions share, read and range-checked.</summary>
internal sealed record RequestSettings
{
    public required SamplingParams Sampling { get; init; }

    /// <summary>max_tokens / max_completion_tokens as asked (null: fill the context up to the cap).</summary>
    public int? MaxTokens { get; init; }

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    public bool ReturnTokenIds { get; init; }

    public RequestAttributes Attributes { get; init; } = new();

    /// <summary>The LoRA adapter 'model' named (null: the base model).</summary>
    public string? Lora { get; init; }

    /// <summary>The name responses report as their model: the adapter's, else the served model's.</summary>
    public string ModelName(ServerOptions options) => Lora ?? options.ServedModelName;

    private const int MaxStops = 16;

    public static RequestSettings Parse(JsonFields f, ServerOptions options, int vocabSize, bool chat, Paged.Engine.Lora.LoraRegistry? adapters = null)
    {
        string? model = f.String("model");
        string? lora = null;
        if (model is not null && model != options.ServedModelName)
        {
            lora = adapters?.Find(model) is not null ? model
                : throw new ApiException(404, $"the model '{model}' does not exist; this server serves '{options.ServedModelName}'"
                    + (adapters is { Adapters.Count: > 0 } ? $" and the LoRA adapters {string.Join(", ", adapters.Adapters.Select(a => $"'{a.Name}'"))}" : ""),
                    "model", code: "model_not_found");
        }

        int? maxTokens = f.Int("max_tokens", 1, options.MaxTokensCap);
        if (chat)
            maxTokens = f.Int("max_completion_tokens", 1, options.MaxTokensCap) ?? maxTokens;

        int? logprobs;
        if (chat)
        {
            bool wanted = f.Bool("logprobs", false);
            int? top = f.Int("top_logprobs", 0, SamplingParams.MaxLogprobs);
            if (top is not null && !wanted)
                throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            logprobs = wanted ? top ?? 0 : null;
        }
        else
        {
            logprobs = f.Int("logprobs", 0, SamplingParams.MaxLogprobs);
        }

        var streamOptions = f.ObjectField("stream_options");
        bool stream = f.Bool("stream", false);
        if (streamOptions is not null && !stream)
            throw ApiException.BadRequest("'stream_options' is only allowed with 'stream': true", "stream_options");

        var sampling = new SamplingParams
        {
            N = f.Int("n", 1, options.MaxN) ?? 1,
            Temperature = f.Float("temperature", 0, 100) ?? 1f,
            TopP = f.Float("top_p", 1e-9, 1) ?? 1f,
            TopK = f.Int("top_k", -1, vocabSize) ?? 0,
            MinP = f.Float("min_p", 0, 1) ?? 0f,
            Seed = f.Seed("seed"),
            Stop = f.StringOrStrings("stop", MaxStops),
            StopTokenIds = f.Ints("stop_token_ids", 0, vocabSize - 1),
            IgnoreEos = f.Bool("ignore_eos", false),
            MinTokens = f.Int("min_tokens", 0, options.MaxTokensCap) ?? 0,
            PresencePenalty = f.Float("presence_penalty", -2, 2) ?? 0f,
            FrequencyPenalty = f.Float("frequency_penalty", -2, 2) ?? 0f,
            RepetitionPenalty = f.Float("repetition_penalty", 1e-6, 100) ?? 1f,
            LogitBias = LogitBias(f, vocabSize),
            Logprobs = logprobs,
            PromptLogprobs = f.Int("prompt_logprobs", 0, SamplingParams.MaxLogprobs),
        };
        if (sampling.Stop.Any(string.IsNullOrEmpty))
            throw ApiException.BadRequest("stop strings must not be empty", "stop");

        return new RequestSettings
        {
            Sampling = sampling,
            Lora = lora,
            MaxTokens = maxTokens,
            Stream = stream,
            IncludeUsage = streamOptions?.Bool("include_usage", false) ?? false,
            ReturnTokenIds = f.Bool("return_token_ids", false),
            Attributes = new RequestAttributes
            {
                Tenant = f.String("user") ?? "",
                Priority = f.Int("priority", -1_000_000, 1_000_000) ?? 0,
            },
        };
    }

    private static Dictionary<int, float>? LogitBias(JsonFields f, int vocabSize)
    {
        if (!f.TryGet("logit_bias", out var v))
            return null;
        if (v.ValueKind != JsonValueKind.Object)
            throw JsonFields.WrongType("logit_bias", "an object mapping token ids to biases");
        var bias = new Dictionary<int, float>();
        foreach (var p in v.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id >= vocabSize)
                throw ApiException.BadRequest($"logit_bias key '{p.Name}' is not a token id in 0..{vocabSize - 1}", "logit_bias");
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out double b) || !(b >= -100 && b <= 100))
                throw ApiException.BadRequest($"logit_bias for token {id} must be a number in [-100, 100]", "logit_bias");
            bias[id] = (float)b;
        }

        return bias;
    }

    /// <summary>The sampling parameters for a prompt of <paramref name="promptTokens"/> tokens: max_tokens fills the
    /// context when not given, and a prompt that leaves no room (or max_tokens that overflows it) is a 400.</summary>
    public SamplingParams ForPrompt(int promptTokens, int maxContext, ServerOptions options, string promptParam)
    {
        int room = maxContext - promptTokens;
        if (room < 1)
        {
            throw ApiException.BadRequest(
                $"the prompt has {promptTokens} tokens but the model's context holds {maxContext} (prompt and at least one generated token)", promptParam);
        }

        if (MaxTokens is int asked && asked > room)
        {
            throw ApiException.BadRequest(
                $"max_tokens = {asked} plus the prompt's {promptTokens} tokens exceeds the model's context of {maxContext} tokens", "max_tokens");
        }

        int maxTokens = MaxTokens ?? Math.Min(room, options.MaxTokensCap);
        if (Sampling.MinTokens > maxTokens)
            throw ApiException.BadRequest($"min_tokens = {Sampling.MinTokens} exceeds max_tokens = {maxTokens}", "min_tokens");
        return Sampling with { MaxTokens = maxTokens };
    }
}
