using System.Globalization;

namespace Paged.Models.Gguf;

/// <summary>Loads a llama-architecture GGUF model into fp32 <see cref="ModelWeights"/>.</summary>
public static class GgufModel
{
    public static ModelWeights Load(string path) => Load(GgufFile.Open(path));

    public static ModelWeights Load(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var config = ReadConfig(file);
        int dim = config.Dim, vocab = config.VocabSize;
        var weightTensors = WeightTensors(config).ToList();
        // Every shape is checked before anything is allocated: the metadata alone must not make the loader
        // allocate what the file does not hold.
        Find(file, "token_embd.weight", [dim, vocab]);
        if (!config.SharedClassifier)
        {
            Find(file, "output.weight", [dim, vocab]);
        }

        foreach (var (name, shape, _) in weightTensors)
        {
            Find(file, name, shape);
        }

        using var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var embedding = new float[(long)vocab * dim];
        Read(file, stream, "token_embd.weight", embedding, [dim, vocab]);
        float[]? classifier = null;
        if (!config.SharedClassifier)
        {
            classifier = new float[(long)vocab * dim];
            Read(file, stream, "output.weight", classifier, [dim, vocab]);
            // Converters often store a tied classifier twice; keep one copy when they are bitwise identical.
            if (classifier.AsSpan().SequenceEqual(embedding))
            {
                config = config with { SharedClassifier = true };
                classifier = null;
            }
        }

        var weights = new ModelWeights(config, file.Path, embedding, classifier);
        foreach (var (name, shape, target) in weightTensors)
        {
            Read(file, stream, name, target(weights), shape);
        }

        weights.CheckFinite();
        return weights;
    }

    /// <summary>The per-layer tensors and the final norm: GGUF name, GGUF shape (innermost first), and where each goes.</summary>
    private static IEnumerable<(string Name, long[] Shape, Func<ModelWeights, float[]> Target)> WeightTensors(ModelConfig config)
    {
        long dim = config.Dim, kv = config.KvDim, hidden = config.HiddenDim;
        for (int l = 0; l < config.NumLayers; l++)
        {
            int layer = l;
            string p = string.Create(CultureInfo.InvariantCulture, $"blk.{l}.");
            yield return (p + "attn_norm.weight", [dim], w => w.Layers[layer].AttnNorm);
            yield return (p + "attn_q.weight", [dim, dim], w => w.Layers[layer].Wq);
            yield return (p + "attn_k.weight", [dim, kv], w => w.Layers[layer].Wk);
            yield return (p + "attn_v.weight", [dim, kv], w => w.Layers[layer].Wv);
            yield return (p + "attn_output.weight", [dim, dim], w => w.Layers[layer].Wo);
            yield return (p + "ffn_norm.weight", [dim], w => w.Layers[layer].FfnNorm);
            yield return (p + "ffn_gate.weight", [dim, hidden], w => w.Layers[layer].W1);
            yield return (p + "ffn_down.weight", [hidden, dim], w => w.Layers[layer].W2);
            yield return (p + "ffn_up.weight", [dim, hidden], w => w.Layers[layer].W3);
        }

        yield return ("output_norm.weight", [dim], w => w.FinalNorm);
    }

    /// <summary>Builds the <see cref="ModelConfig"/> from llama.* and tokenizer.ggml.* metadata.</summary>
    public static ModelConfig ReadConfig(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string arch = file.GetString("general.architecture") ?? "(missing)";
        if (arch != "llama")
        {
            throw ModelFormatException.For(file.Path, $"general.architecture is {arch}; only llama is supported");
        }

        var embd = file.FindTensor("token_embd.weight") ?? throw ModelFormatException.For(file.Path, "tensor token_embd.weight is missing");
        int vocab = file.GetArray<string>("tokenizer.ggml.tokens")?.Length ?? (int)embd.Shape[^1];
        int heads = file.GetRequiredInt("llama.attention.head_count");
        int bos = file.TryGetInt("tokenizer.ggml.bos_token_id", out int b) ? b : 1;
        int eos = file.TryGetInt("tokenizer.ggml.eos_token_id", out int e) ? e : 2;
        var config = new ModelConfig
        {
            Dim = file.GetRequiredInt("llama.embedding_length"),
            HiddenDim = file.GetRequiredInt("llama.feed_forward_length"),
            NumLayers = file.GetRequiredInt("llama.block_count"),
            NumHeads = heads,
            NumKvHeads = file.TryGetInt("llama.attention.head_count_kv", out int kvHeads) ? kvHeads : heads,
            VocabSize = vocab,
            MaxSeqLen = file.GetRequiredInt("llama.context_length"),
            NormEps = file.GetFloat("llama.attention.layer_norm_rms_epsilon") ?? 1e-5f,
            RopeTheta = file.GetFloat("llama.rope.freq_base") ?? 10000f,
            RopeStyle = RopeStyle.AdjacentPairs,
            SharedClassifier = file.FindTensor("output.weight") is null,
            BosId = bos,
            EosId = eos,
            // llama2.c-trained models end a story with BOS; stopping on it is harmless for others.
            StopTokenIds = eos == bos ? [eos] : [eos, bos],
        };
        config.Validate(file.Path);
        if (file.TryGetInt("llama.rope.dimension_count", out int ropeDims) && ropeDims != config.HeadSize)
        {
            throw ModelFormatException.For(file.Path, $"llama.rope.dimension_count {ropeDims} differs from the head size {config.HeadSize}; partial RoPE is not supported");
        }

        return config;
    }

    /// <summary>Reads a tensor after checking its GGUF shape (innermost first).</summary>
    private static void Read(GgufFile file, Stream stream, string name, float[] destination, long[] shape) =>
        file.ReadTensor(stream, Find(file, name, shape), destination);

    /// <summary>
    /// The tensor called <paramref name="name"/>, which must exist with exactly <paramref name="want"/> as its GGUF shape
    /// and a supported type (whose data <see cref="GgufFile.Open"/> has checked lies inside the file).
    /// </summary>
    private static GgufTensorInfo Find(GgufFile file, string name, long[] want)
    {
        var t = file.FindTensor(name) ?? throw ModelFormatException.For(file.Path, $"tensor {name} is missing");
        if (!t.Shape.SequenceEqual(want))
        {
            throw ModelFormatException.For(file.Path,
                $"tensor {name} has shape {t.ShapeText} but the model config needs [{string.Join(", ", want)}] (GGUF order, innermost first)");
        }

        file.CheckSupported(t);
        return t;
    }
}
