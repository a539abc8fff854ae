using Paged.Models.Weights;
using System.Text;

namespace Paged.Models.Tests;

/// <summary>Writes small GGUF files for tests.</summary>
internal sealed class GgufTestWriter
{
    private readonly List<(string Key, Action<BinaryWriter> Write)> _kvs = [];
    private readonly List<(string Name, long[] Dims, uint Type, byte[] Data)> _tensors = [];
    private readonly Dictionary<string, long> _offsetDeltas = [];

    public uint Version { get; set; } = 3;
    public uint Alignment { get; set; } = 32;

    public GgufTestWriter UInt32(string key, uint v) => Add(key, w => { w.Write(4u); w.Write(v); });
    public GgufTestWriter Float32(string key, float v) => Add(key, w => { w.Write(6u); w.Write(v); });
    public GgufTestWriter Bool(string key, bool v) => Add(key, w => { w.Write(7u); w.Write(v); });
    public GgufTestWriter String(string key, string v) => Add(key, w => { w.Write(8u); WriteString(w, v); });

    public GgufTestWriter Strings(string key, IReadOnlyList<string> values) => Add(key, w =>
    {
        w.Write(9u); w.Write(8u); w.Write((ulong)values.Count);
        foreach (string s in values) { WriteString(w, s); }
    });

    public GgufTestWriter Floats(string key, IReadOnlyList<float> values) => Add(key, w =>
    {
        w.Write(9u); w.Write(6u); w.Write((ulong)values.Count);
        foreach (float f in values) { w.Write(f); }
    });

    public GgufTestWriter Ints(string key, IReadOnlyList<int> values) => Add(key, w =>
    {
        w.Write(9u); w.Write(5u); w.Write((ulong)values.Count);
        foreach (int i in values) { w.Write(i); }
    });

    public GgufTestWriter Tensor(string name, long[] dims, uint type, byte[] data)
    {
        _tensors.Add((name, dims, type, data));
        return this;
    }

    /// <summary>Replaces the type and data of an already added tensor (same name and dims).</summary>
    public GgufTestWriter Retype(string name, uint type, byte[] data)
    {
        int i = _tensors.FindIndex(t => t.Name == name);
        _tensors[i] = (name, _tensors[i].Dims, type, data);
        return this;
    }

    /// <summary>Writes this tensor's directory offset <paramref name="delta"/> bytes away from where its data is.</summary>
    public GgufTestWriter ShiftOffset(string name, long delta)
    {
        _offsetDeltas[name] = delta;
        return this;
    }

    /// <summary>A metadata value of any type, written by <paramref name="writeTypeAndValue"/> (type id first).</summary>
    public GgufTestWriter Raw(string key, Action<BinaryWriter> writeTypeAndValue) => Add(key, writeTypeAndValue);

    public GgufTestWriter TensorF32(string name, long[] dims, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return Tensor(name, dims, 0, bytes);
    }

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write("GGUF"u8);
            w.Write(Version);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_kvs.Count);
            foreach (var (key, write) in _kvs)
            {
                WriteString(w, key);
                write(w);
            }

            ulong offset = 0;
            foreach (var (name, dims, type, data) in _tensors)
            {
                WriteString(w, name);
                w.Write((uint)dims.Length);
                foreach (long d in dims) { w.Write((ulong)d); }
                w.Write(type);
                w.Write(offset + (ulong)_offsetDeltas.GetValueOrDefault(name));
                offset += Align((ulong)data.Length);
            }

            w.Flush();
            while (ms.Position % Alignment != 0) { w.Write((byte)0); }
            foreach (var (_, _, _, data) in _tensors)
            {
                w.Write(data);
                for (ulong pad = Align((ulong)data.Length) - (ulong)data.Length; pad > 0; pad--) { w.Write((byte)0); }
            }
        }

        return ms.ToArray();
    }

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    /// <summary>A complete llama GGUF holding <paramref name="weights"/> as F32 (no tokenizer metadata).</summary>
    public static GgufTestWriter FromWeights(ModelWeights weights, Func<string, long[], long[]>? reshape = null)
    {
        var c = weights.Config;
        reshape ??= (_, d) => d;
        var g = new GgufTestWriter()
            .String("general.architecture", "llama")
            .UInt32("llama.embedding_length", (uint)c.Dim)
            .UInt32("llama.feed_forward_length", (uint)c.HiddenDim)
            .UInt32("llama.block_count", (uint)c.NumLayers)
            .UInt32("llama.attention.head_count", (uint)c.NumHeads)
            .UInt32("llama.attention.head_count_kv", (uint)c.NumKvHeads)
            .UInt32("llama.context_length", (uint)c.MaxSeqLen)
            .Float32("llama.attention.layer_norm_rms_epsilon", c.NormEps);
        void T(string name, string canonical, params long[] dims) => g.TensorF32(name, reshape(name, dims), weights.Find(canonical)!.ToArray());
        T("token_embd.weight", WeightNames.Embedding, c.Dim, c.VocabSize);
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"blk.{l}.";
            string L(string suffix) => WeightNames.Layer(l, suffix);
            T(p + "attn_norm.weight", L(WeightNames.AttnNorm), c.Dim);
            T(p + "attn_q.weight", L(WeightNames.QProj), c.Dim, c.Dim);
            T(p + "attn_k.weight", L(WeightNames.KProj), c.Dim, c.KvDim);
            T(p + "attn_v.weight", L(WeightNames.VProj), c.Dim, c.KvDim);
            T(p + "attn_output.weight", L(WeightNames.OProj), c.Dim, c.Dim);
            T(p + "ffn_norm.weight", L(WeightNames.FfnNorm), c.Dim);
            T(p + "ffn_gate.weight", L(WeightNames.Gate), c.Dim, c.HiddenDim);
            T(p + "ffn_down.weight", L(WeightNames.Down), c.HiddenDim, c.Dim);
            T(p + "ffn_up.weight", L(WeightNames.Up), c.Dim, c.HiddenDim);
        }

        T("output_norm.weight", WeightNames.FinalNorm, c.Dim);
        return g;
    }

    private GgufTestWriter Add(string key, Action<BinaryWriter> write)
    {
        _kvs.Add((key, write));
        return this;
    }

    private ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }
}
