using System.Globalization;
using Paged.Models.Weights;

namespace Paged.Models.Hf;

/// <summary>
/// Reads a checkpoint directory's config.json (and generation_config.json) into a <see cref="ModelConfig"/>, in both
/// layouts: Hub checkpoints (rope_theta + rope_scaling, torch_dtype) and transformers 5 (rope_parameters, dtype).
/// </summary>
public static class HfConfig
{
    public const string FileName = "config.json";
    public const string GenerationFileName = "generation_config.json";

    public static ModelConfig Read(string directory)
    {
        var json = HfJson.Load(System.IO.Path.Combine(directory, FileName));
        var generationPath = System.IO.Path.Combine(directory, GenerationFileName);
        var generation = File.Exists(generationPath) ? HfJson.Load(generationPath) : null;
        return Read(json, generation);
    }

    /// <summary>Builds the config from parsed config.json and optional generation_config.json.</summary>
    public static ModelConfig Read(HfJson json, HfJson? generation)
    {
        ArgumentNullException.ThrowIfNull(json);
        var names = json.GetTextList("architectures") ?? throw json.Fail("architectures is missing");
        if (names.Count != 1)
            throw json.Fail($"architectures lists {names.Count} entries; expected one");
        var architecture = ModelRegistry.ForHf(names[0], json.Path);
        string act = json.GetText("hidden_act") ?? json.GetText("hidden_activation") ?? "silu";
        if (act != "silu")
            throw json.Fail($"hidden_act is {act}; only silu is supported");
        if (json.GetDouble("partial_rotary_factor") is { } partial && partial != 1.0)
            throw json.Fail(string.Create(CultureInfo.InvariantCulture, $"partial_rotary_factor is {partial}; partial RoPE is not supported"));

        int heads = json.GetRequiredInt("num_attention_heads");
        var (theta, scaling) = ReadRope(json);
        var eos = Union(json.GetIntOrList("eos_token_id"), generation?.GetIntOrList("eos_token_id"));
        if (eos.Count == 0)
            throw json.Fail("eos_token_id is missing (neither config.json nor generation_config.json states one)");
        int maxPositions = json.GetRequiredInt("max_position_embeddings");
        var config = new ModelConfig
        {
            Architecture = names[0],
            Dim = json.GetRequiredInt("hidden_size"),
            HiddenDim = json.GetRequiredInt("intermediate_size"),
            NumLayers = json.GetRequiredInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = json.GetInt("num_key_value_heads") ?? heads,
            HeadDim = json.GetInt("head_dim") ?? 0,
            VocabSize = json.GetRequiredInt("vocab_size"),
            MaxSeqLen = maxPositions,
            NormEps = json.GetFloat("rms_norm_eps") ?? 1e-6f,
            RopeTheta = theta,
            RopeStyle = RopeStyle.RotateHalf,
            RopeScaling = scaling.Type == RopeScalingType.None || scaling.OriginalMaxPositions > 0 ? scaling
                : scaling with { OriginalMaxPositions = maxPositions },
            SharedClassifier = json.GetBool("tie_word_embeddings") ?? false,
            BosId = json.GetInt("bos_token_id") ?? generation?.GetInt("bos_token_id") ?? -1,
            EosId = eos[0],
            StopTokenIds = eos,
            DType = ReadDType(json),
            Generation = generation is null ? GenerationDefaults.Empty : ReadGeneration(generation),
        };
        config = architecture.Configure(config, json);
        config.Validate(json.Path);
        return config;
    }

    /// <summary>rope_parameters (transformers 5) or rope_theta + rope_scaling (earlier), as transformers reads them.</summary>
    private static (float Theta, RopeScaling Scaling) ReadRope(HfJson json)
    {
        var parameters = json.GetSection("rope_parameters");
        var scalingJson = parameters ?? json.GetSection("rope_scaling");
        float theta = parameters?.GetFloat("rope_theta") ?? json.GetFloat("rope_theta") ?? 10000f;
        if (scalingJson is null)
            return (theta, RopeScaling.None);
        string type = scalingJson.GetText("rope_type") ?? scalingJson.GetText("type")
            ?? (parameters is not null && parameters.Keys.Any(k => k.EndsWith("_attention", StringComparison.Ordinal))
                ? throw parameters.Fail("per-layer-type RoPE parameters are not supported")
                : "default");
        var kind = type switch
        {
            "default" => RopeScalingType.None,
            "linear" => RopeScalingType.Linear,
            "dynamic" => RopeScalingType.Dynamic,
            "llama3" => RopeScalingType.Llama3,
            _ => throw scalingJson.Fail($"rope_type {type} is not supported (default, linear, dynamic, llama3)"),
        };
        float factor = scalingJson.GetFloat("factor") ?? (kind == RopeScalingType.None ? 1f : throw scalingJson.Fail("factor is missing"));
        return (theta, new RopeScaling
        {
            Type = kind,
            Factor = factor,
            LowFreqFactor = scalingJson.GetFloat("low_freq_factor") ?? (kind == RopeScalingType.Llama3 ? throw scalingJson.Fail("low_freq_factor is missing") : 1f),
            HighFreqFactor = scalingJson.GetFloat("high_freq_factor") ?? (kind == RopeScalingType.Llama3 ? throw scalingJson.Fail("high_freq_factor is missing") : 4f),
            OriginalMaxPositions = scalingJson.GetInt("original_max_position_embeddings") ?? 0,
        });
    }

    /// <summary>dtype (transformers 5) or torch_dtype (earlier); absent means float32.</summary>
    private static WeightDType ReadDType(HfJson json)
    {
        string name = json.GetText("dtype") ?? json.GetText("torch_dtype") ?? "float32";
        return name switch
        {
            "float32" => WeightDType.F32,
            "bfloat16" => WeightDType.BF16,
            "float16" => WeightDType.F16,
            _ => throw json.Fail($"dtype {name} is not supported (float32, bfloat16, float16)"),
        };
    }

    private static GenerationDefaults ReadGeneration(HfJson g) => new()
    {
        Temperature = g.GetFloat("temperature"),
        TopP = g.GetFloat("top_p"),
        TopK = g.GetInt("top_k"),
        MinP = g.GetFloat("min_p"),
        RepetitionPenalty = g.GetFloat("repetition_penalty"),
    };

    private static List<int> Union(IReadOnlyList<int>? a, IReadOnlyList<int>? b)
    {
        var result = new List<int>();
        foreach (int id in (a ?? []).Concat(b ?? []))
        {
            if (!result.Contains(id))
                result.Add(id);
        }

        return result;
    }
}
