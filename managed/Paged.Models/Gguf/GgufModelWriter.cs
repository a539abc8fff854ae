using System.Globalization;
using System.Text;
using Paged.Models.Hf;
using Paged.Models.Weights;
using Paged.Runtime.Interop;

namespace Paged.Models.Gguf;

/// <summary>
/// Writes a GGUF v3 model of a registered architecture: {arch}.* metadata, a synthetic llama-style tokenizer of the
/// vocabulary size (so text prompts work), and the tensors under GGUF names in F32, F16 or BF16, streamed in chunks.
/// </summary>
public static class GgufModelWriter
{
    private const int Alignment = 32;
    private const int ChunkFloats = 1 << 16;

    /// <summary>Random tensors (as <see cref="HfExport.Random"/>); GGUF llama keeps adjacent-pair RoPE, which random weights do not care about.</summary>
    public static IReadOnlyList<CheckpointTensor> Random(ModelConfig config, ulong seed) => HfExport.Random(config, seed);

    /// <summary>A loaded model's tensors; its RoPE pairing must be the one GGUF uses for the architecture.</summary>
    public static IReadOnlyList<CheckpointTensor> FromWeights(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Config.RopeStyle != ModelRegistry.ForHf(weights.Config.Architecture, weights.SourcePath).GgufRopeStyle)
            throw new ArgumentException($"{weights.SourcePath}: converting {weights.Config.RopeStyle} RoPE weights to GGUF is not supported");
        return [.. weights.AllTensors.Select(t => new CheckpointTensor(t.Name, [.. t.Shape], t.ReadF32))];
    }

    public static void Write(string path, ModelConfig config, IEnumerable<CheckpointTensor> tensors, WeightDType dtype)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        config.Validate(path);
        string arch = ModelRegistry.ForHf(config.Architecture, path).GgufNames[0];
        var list = tensors.Select(t => (Gguf: GgufName(t.Name), Tensor: t)).ToList();
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        var kvs = Metadata(config, arch);
        w.Write("GGUF"u8);
        w.Write(3u);
        w.Write((ulong)list.Count);
        w.Write((ulong)kvs.Count);
        foreach (var (key, write) in kvs)
        {
            WriteString(w, key);
            write(w);
        }

        ulong offset = 0;
        foreach (var (name, t) in list)
        {
            WriteString(w, name);
            w.Write((uint)t.Shape.Length);
            foreach (long d in t.Shape.Reverse())
                w.Write((ulong)d);
            w.Write((uint)(StoredType(t, dtype) switch { WeightDType.F16 => GgufTensorType.F16, WeightDType.BF16 => GgufTensorType.BF16, _ => GgufTensorType.F32 }));
            w.Write(offset);
            offset += Align(Bytes(t, StoredType(t, dtype)));
        }

        Pad(w);
        var floats = new float[ChunkFloats];
        var bytes = new byte[ChunkFloats * 4];
        foreach (var (_, t) in list)
        {
            long count = t.Shape.Aggregate(1L, (a, b) => a * b);
            for (long done = 0; done < count;)
            {
                int n = (int)Math.Min(ChunkFloats, count - done);
                t.Fill(done, floats.AsSpan(0, n));
                w.Write(bytes, 0, WeightEncoder.Encode(StoredType(t, dtype), floats.AsSpan(0, n), bytes));
                done += n;
            }

            Pad(w);
        }
    }

    private static List<(string Key, Action<BinaryWriter> Write)> Metadata(ModelConfig c, string arch)
    {
        var pieces = RandomModelWriter.SyntheticPieces(c.VocabSize);
        var kvs = new List<(string, Action<BinaryWriter>)>
        {
            ("general.architecture", w => { w.Write(8u); WriteString(w, arch); }),
            ("general.name", w => { w.Write(8u); WriteString(w, "paged make-model"); }),
            (arch + ".embedding_length", U32(c.Dim)),
            (arch + ".feed_forward_length", U32(c.HiddenDim)),
            (arch + ".block_count", U32(c.NumLayers)),
            (arch + ".attention.head_count", U32(c.NumHeads)),
            (arch + ".attention.head_count_kv", U32(c.NumKvHeads)),
            (arch + ".attention.key_length", U32(c.HeadSize)),
            (arch + ".attention.value_length", U32(c.HeadSize)),
            (arch + ".rope.dimension_count", U32(c.HeadSize)),
            (arch + ".context_length", U32(c.MaxSeqLen)),
            (arch + ".attention.layer_norm_rms_epsilon", w => { w.Write(6u); w.Write(c.NormEps); }),
            (arch + ".rope.freq_base", w => { w.Write(6u); w.Write(c.RopeTheta); }),
            ("tokenizer.ggml.model", w => { w.Write(8u); WriteString(w, "llama"); }),
            ("tokenizer.ggml.tokens", w =>
            {
                w.Write(9u); w.Write(8u); w.Write((ulong)pieces.Count);
                for (int i = 0; i < pieces.Count; i++)
                    WriteString(w, i switch { 1 => "<s>", 2 => "</s>", _ => pieces[i].Replace(' ', '\u2581') });
            }),
            ("tokenizer.ggml.scores", w =>
            {
                w.Write(9u); w.Write(6u); w.Write((ulong)pieces.Count);
                for (int i = 0; i < pieces.Count; i++)
                    w.Write(i < 259 ? 0f : -(float)(i - 259));
            }),
            ("tokenizer.ggml.token_type", w =>
            {
                w.Write(9u); w.Write(5u); w.Write((ulong)pieces.Count);
                for (int i = 0; i < pieces.Count; i++)
                    w.Write(i switch { 0 => 2, 1 or 2 => 3, < 259 => 6, _ => 1 });
            }),
            ("tokenizer.ggml.bos_token_id", U32(1)),
            ("tokenizer.ggml.eos_token_id", U32(2)),
        };
        if (c.SlidingWindow > 0)
            kvs.Add((arch + ".attention.sliding_window", U32(c.SlidingWindow)));
        return kvs;
    }

    /// <summary>The GGUF name of a canonical (Hugging Face) tensor name.</summary>
    public static string GgufName(string name)
    {
        switch (name)
        {
            case WeightNames.Embedding: return "token_embd.weight";
            case WeightNames.FinalNorm: return "output_norm.weight";
            case WeightNames.Classifier: return "output.weight";
        }

        const string prefix = "model.layers.";
        int dot = name.IndexOf('.', prefix.Length);
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || dot < 0)
            throw new ArgumentException($"tensor {name} has no GGUF name");
        string layer = name[prefix.Length..dot];
        string suffix = name[(dot + 1)..] switch
        {
            WeightNames.AttnNorm => "attn_norm.weight",
            WeightNames.QProj => "attn_q.weight",
            WeightNames.KProj => "attn_k.weight",
            WeightNames.VProj => "attn_v.weight",
            WeightNames.OProj => "attn_output.weight",
            WeightNames.QBias => "attn_q.bias",
            WeightNames.KBias => "attn_k.bias",
            WeightNames.VBias => "attn_v.bias",
            WeightNames.QNorm => "attn_q_norm.weight",
            WeightNames.KNorm => "attn_k_norm.weight",
            WeightNames.FfnNorm => "ffn_norm.weight",
            WeightNames.Gate => "ffn_gate.weight",
            WeightNames.Up => "ffn_up.weight",
            WeightNames.Down => "ffn_down.weight",
            var other => throw new ArgumentException($"tensor {name} ({other}) has no GGUF name"),
        };
        return string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{suffix}");
    }

    private static Action<BinaryWriter> U32(int value) => w => { w.Write(4u); w.Write((uint)value); };

    /// <summary>1-D tensors (norm weights) stay f32, as llama.cpp's converter writes them (its CPU mul takes f32 only).</summary>
    private static WeightDType StoredType(CheckpointTensor t, WeightDType dtype) => t.Shape.Length == 1 ? WeightDType.F32 : dtype;

    private static ulong Bytes(CheckpointTensor t, WeightDType dtype) => (ulong)(t.Shape.Aggregate(1L, (a, b) => a * b) * WeightDTypes.Size(dtype));

    private static ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        w.Flush();
        while (w.BaseStream.Position % Alignment != 0)
            w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }
}
