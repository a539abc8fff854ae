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
        using var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        int dim = config.Dim, kv = config.KvDim, hidden = config.HiddenDim, vocab = config.VocabSize;
        var embedding = new float[(long)vocab * dim];
        Read(file, stream, "token_embd.weight", embedding, dim, vocab);
        float[]? classifier = null;
        if (!config.SharedClassifier)
        {
            classifier = new float[(long)vocab * dim];
            Read(file, stream, "output.weight", classifier, dim, vocab);
            // Converters often store a tied classifier twice; keep one copy when they are bitwise identical.
            if (classifier.AsSpan().SequenceEqual(embedding))
            {
                config = config with { SharedClassifier = true };
                classifier = null;
            }
        }

        var weights = new ModelWeights(config, file.Path, embedding, classifier);
        for (int l = 0; l < config.NumLayers; l++)
        {
            var layer = weights.Layers[l];
            string p = string.Create(CultureInfo.InvariantCulture, $"blk.{l}.");
            Read(file, stream, p + "attn_norm.weight", layer.AttnNorm, dim);
            Read(file, stream, p + "attn_q.weight", layer.Wq, dim, dim);
            Read(file, stream, p + "attn_k.weight", layer.Wk, dim, kv);
            Read(file, stream, p + "attn_v.weight", layer.Wv, dim, kv);
            Read(file, stream, p + "attn_output.weight", layer.Wo, dim, dim);
            Read(file, stream, p + "ffn_norm.weight", layer.FfnNorm, dim);
            Read(file, stream, p + "ffn_gate.weight", layer.W1, dim, hidden);
            Read(file, stream, p + "ffn_down.weight", layer.W2, hidden, dim);
            Read(file, stream, p + "ffn_up.weight", layer.W3, dim, hidden);
        }

        Read(file, stream, "output_norm.weight", weights.FinalNorm, dim);

        weights.CheckFinite();
        return weights;
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

    /// <summary>Reads a tensor after checking its GGUF shape (innermost first) is [ne0] or [ne0, ne1].</summary>
    private static void Read(GgufFile file, Stream stream, string name, float[] destination, long ne0, long ne1 = -1)
    {
        var t = file.FindTensor(name) ?? throw ModelFormatException.For(file.Path, $"tensor {name} is missing");
        long[] want = ne1 < 0 ? [ne0] : [ne0, ne1];
        bool ok = t.Shape.Count == want.Length;
        for (int i = 0; ok && i < want.Length; i++)
        {
            ok = t.Shape[i] == want[i];
        }

        if (!ok)
        {
            throw ModelFormatException.For(file.Path,
                $"tensor {name} has shape {t.ShapeText} but the model config needs [{string.Join(", ", want)}] (GGUF order, innermost first)");
        }

        file.ReadTensor(stream, t, destination);
    }
}
