using System.Globalization;
using Paged.Models.Weights;
using Paged.Runtime.Interop;

namespace Paged.Models.Gguf;

/// <summary>
/// Loads a GGUF model of a registered architecture (llama, mistral, qwen2, qwen3) into fp32 tensors under the
/// canonical (Hugging Face) names; shapes are reversed from GGUF's innermost-first order.
/// </summary>
public static class GgufModel
{
    private static readonly (string Gguf, string Hf)[] LayerNames =
    [
        ("attn_norm.weight", WeightNames.AttnNorm), ("attn_q.weight", WeightNames.QProj), ("attn_k.weight", WeightNames.KProj),
        ("attn_v.weight", WeightNames.VProj), ("attn_output.weight", WeightNames.OProj), ("attn_q.bias", WeightNames.QBias),
        ("attn_k.bias", WeightNames.KBias), ("attn_v.bias", WeightNames.VBias), ("attn_q_norm.weight", WeightNames.QNorm),
        ("attn_k_norm.weight", WeightNames.KNorm), ("ffn_norm.weight", WeightNames.FfnNorm), ("ffn_gate.weight", WeightNames.Gate),
        ("ffn_up.weight", WeightNames.Up), ("ffn_down.weight", WeightNames.Down),
    ];

    public static ModelWeights Load(string path) => Load(GgufFile.Open(path));

    public static ModelWeights Load(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var config = ReadConfig(file);
        // Mapped, not read: tensors are views of the file in their stored type (the CPU backend uses f32, f16, bf16
        // and q8_0 in place; other backends get fp32 as they upload).
        var mapped = MappedFile.Open(file.Path);
        try
        {
            var tensors = new List<WeightTensor>();
            foreach (var info in file.Tensors)
            {
                if (CanonicalName(info.Name, config.NumLayers) is not { } name)
                    continue;
                file.CheckSupported(info); // only a supported tensor's size was checked against the file
                tensors.Add(new WeightTensor(name, StoredType(info.Type), [.. info.Shape.Reverse()], mapped, file.DataOffset + info.Offset));
            }

            // Converters often store a tied classifier twice; keep one copy when they are bitwise identical.
            int output = tensors.FindIndex(t => t.Name == WeightNames.Classifier);
            var embedding = tensors.Find(t => t.Name == WeightNames.Embedding);
            if (output >= 0 && embedding is not null && SameBytes(tensors[output], embedding))
            {
                tensors.RemoveAt(output);
                config = config with { SharedClassifier = true };
            }

            var weights = new ModelWeights(config, file.Path, tensors, [mapped]);
            weights.CheckTensors();
            weights.CheckFinite();
            return weights;
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    private static WeightDType StoredType(GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => WeightDType.F32,
        GgufTensorType.F16 => WeightDType.F16,
        GgufTensorType.BF16 => WeightDType.BF16,
        _ => WeightDType.Q8_0, // CheckSupported admits only these four
    };

    private static bool SameBytes(WeightTensor a, WeightTensor b)
    {
        if (a.DType != b.DType || a.ByteCount != b.ByteCount)
            return false;
        var x = new byte[1 << 20];
        var y = new byte[x.Length];
        for (long done = 0; done < a.ByteCount; done += x.Length)
        {
            int n = (int)Math.Min(x.Length, a.ByteCount - done);
            a.ReadBytes(done, x.AsSpan(0, n));
            b.ReadBytes(done, y.AsSpan(0, n));
            if (!x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, n)))
                return false;
        }

        return true;
    }

    /// <summary>Builds the <see cref="ModelConfig"/> from {arch}.* and tokenizer.ggml.* metadata.</summary>
    public static ModelConfig ReadConfig(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string arch = file.GetString("general.architecture") ?? "(missing)";
        var architecture = ModelRegistry.ForGguf(arch, file.Path);
        var embd = file.FindTensor("token_embd.weight") ?? throw ModelFormatException.For(file.Path, "tensor token_embd.weight is missing");
        int vocab = file.GetArray<string>("tokenizer.ggml.tokens")?.Length ?? (int)embd.Shape[^1];
        int heads = file.GetRequiredInt(arch + ".attention.head_count");
        int bos = file.TryGetInt("tokenizer.ggml.bos_token_id", out int b) ? b : 1;
        int eos = file.TryGetInt("tokenizer.ggml.eos_token_id", out int e) ? e : 2;
        var config = new ModelConfig
        {
            Architecture = architecture.HfName,
            Dim = file.GetRequiredInt(arch + ".embedding_length"),
            HiddenDim = file.GetRequiredInt(arch + ".feed_forward_length"),
            NumLayers = file.GetRequiredInt(arch + ".block_count"),
            NumHeads = heads,
            NumKvHeads = file.TryGetInt(arch + ".attention.head_count_kv", out int kvHeads) ? kvHeads : heads,
            HeadDim = file.TryGetInt(arch + ".attention.key_length", out int keyLength) ? keyLength : 0,
            VocabSize = vocab,
            MaxSeqLen = file.GetRequiredInt(arch + ".context_length"),
            NormEps = file.GetFloat(arch + ".attention.layer_norm_rms_epsilon") ?? 1e-5f,
            RopeTheta = file.GetFloat(arch + ".rope.freq_base") ?? 10000f,
            RopeStyle = architecture.GgufRopeStyle,
            SharedClassifier = file.FindTensor("output.weight") is null,
            BosId = bos,
            EosId = eos,
            // llama2.c-trained models end a story with BOS; stopping on it is harmless for others.
            StopTokenIds = eos == bos ? [eos] : [eos, bos],
            AttentionBias = file.FindTensor("blk.0.attn_q.bias") is not null,
            SlidingWindow = file.TryGetInt(arch + ".attention.sliding_window", out int window) ? window : 0,
        };
        config = architecture.Configure(config, null);
        config.Validate(file.Path);
        if (file.TryGetInt(arch + ".rope.dimension_count", out int ropeDims) && ropeDims != config.HeadSize)
        {
            throw ModelFormatException.For(file.Path, $"{arch}.rope.dimension_count {ropeDims} differs from the head size {config.HeadSize}; partial RoPE is not supported");
        }

        return config;
    }

    /// <summary>The canonical name of a GGUF tensor, or null for one the models do not use.</summary>
    private static string? CanonicalName(string gguf, int numLayers)
    {
        switch (gguf)
        {
            case "token_embd.weight": return WeightNames.Embedding;
            case "output_norm.weight": return WeightNames.FinalNorm;
            case "output.weight": return WeightNames.Classifier;
        }

        if (!gguf.StartsWith("blk.", StringComparison.Ordinal))
            return null;
        int dot = gguf.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(gguf.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int layer) || layer >= numLayers)
            return null;
        string rest = gguf[(dot + 1)..];
        foreach (var (g, hf) in LayerNames)
        {
            if (g == rest)
                return WeightNames.Layer(layer, hf);
        }

        return null;
    }
}
