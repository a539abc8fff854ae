using System.Globalization;
using Paged.Models.Weights;
using Paged.Runtime.Interop;

namespace Paged.Models;

/// <summary>Shape and hyper-parameters of a decoder-only model, as read from a model file.</summary>
public sealed record ModelConfig
{
    /// <summary>The Hugging Face architecture name (config.json "architectures"); the key into <see cref="ModelRegistry"/>.</summary>
    public string Architecture { get; init; } = "LlamaForCausalLM";

    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int VocabSize { get; init; }

    /// <summary>Context length as the file states it (llama2.c header seq_len, GGUF llama.context_length).</summary>
    public required int MaxSeqLen { get; init; }

    public float NormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    public RopeStyle RopeStyle { get; init; } = RopeStyle.AdjacentPairs;
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;

    /// <summary>Size of one attention head; 0 means <see cref="Dim"/> / <see cref="NumHeads"/> (config.json head_dim).</summary>
    public int HeadDim { get; init; }

    /// <summary>The q, k and v projections have biases (Qwen2, Llama attention_bias).</summary>
    public bool AttentionBias { get; init; }

    /// <summary>Per-head RMSNorm on queries and keys before RoPE (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>Each token attends to at most this many positions, itself included (Mistral); 0 = unlimited.</summary>
    public int SlidingWindow { get; init; }

    public GenerationDefaults Generation { get; init; } = GenerationDefaults.Empty;

    /// <summary>The parameter type the checkpoint declares (config.json dtype / torch_dtype); which tensors keep their stored
    /// dtype on the device is <see cref="Decoders.DeviceWeightDTypes"/>'s rule (the rest are widened to fp32 on upload).</summary>
    public WeightDType DType { get; init; } = WeightDType.F32;

    /// <summary>True when the output classifier is the token embedding matrix.</summary>
    public bool SharedClassifier { get; init; } = true;

    /// <summary>Beginning-of-sequence id, or -1 when the model has none (Qwen).</summary>
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;

    /// <summary>
    /// Token ids that end a sequence. Both loaders use {EOS, BOS}: llama2.c-trained models (stories*) end a story
    /// by emitting BOS rather than EOS, and the reference implementation stops on BOS.
    /// </summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [2, 1];

    public int HeadSize => HeadDim > 0 ? HeadDim : Dim / NumHeads;

    /// <summary>Width of all query heads together (= <see cref="Dim"/> unless head_dim says otherwise).</summary>
    public int QDim => NumHeads * HeadSize;

    public int KvDim => NumKvHeads * HeadSize;

    /// <summary>Number of query heads that share one KV head.</summary>
    public int KvGroupSize => NumHeads / NumKvHeads;

    /// <summary>Throws <see cref="ModelFormatException"/> (prefixed with <paramref name="path"/>) if the shape is not usable.</summary>
    public void Validate(string path)
    {
        CheckRange(path, "dim", Dim, 1 << 16);
        CheckRange(path, "hidden_dim", HiddenDim, 1 << 18);
        CheckRange(path, "n_layers", NumLayers, 1024);
        CheckRange(path, "n_heads", NumHeads, 1024);
        CheckRange(path, "n_kv_heads", NumKvHeads, 1024);
        CheckRange(path, "vocab_size", VocabSize, 1 << 22);
        CheckRange(path, "seq_len", MaxSeqLen, 1 << 24);
        if (HeadDim < 0 || HeadDim > 1024)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"head_dim is {HeadDim}; it must be between 1 and 1024"));
        }

        if (HeadDim == 0 && Dim % NumHeads != 0)
        {
            throw ModelFormatException.For(path, $"n_heads {NumHeads} does not divide dim {Dim}");
        }

        if (NumHeads % NumKvHeads != 0)
        {
            throw ModelFormatException.For(path, $"n_kv_heads {NumKvHeads} does not divide n_heads {NumHeads}");
        }

        if (HeadSize % 2 != 0)
        {
            throw ModelFormatException.For(path, $"head size {HeadSize} is odd; RoPE needs an even head size");
        }

        if (!(NormEps > 0f && NormEps < 1f))
        {
            throw ModelFormatException.For(path, $"RMSNorm epsilon {NormEps.ToString(CultureInfo.InvariantCulture)} is not in (0, 1)");
        }

        if (!(RopeTheta > 0f) || float.IsInfinity(RopeTheta))
        {
            throw ModelFormatException.For(path, $"RoPE theta {RopeTheta.ToString(CultureInfo.InvariantCulture)} is not a positive number");
        }

        if (SlidingWindow < 0)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"sliding window {SlidingWindow} is negative"));
        }

        if (!(RopeScaling.Factor >= 1f) || float.IsInfinity(RopeScaling.Factor))
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"RoPE scaling factor {RopeScaling.Factor} is not a number >= 1"));
        }

        if (RopeScaling.Type == RopeScalingType.Llama3 && !(RopeScaling.HighFreqFactor > RopeScaling.LowFreqFactor && RopeScaling.LowFreqFactor > 0f))
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"llama3 RoPE scaling needs high_freq_factor ({RopeScaling.HighFreqFactor}) > low_freq_factor ({RopeScaling.LowFreqFactor}) > 0"));
        }

        if (BosId < -1 || BosId >= VocabSize || EosId < 0 || EosId >= VocabSize)
        {
            throw ModelFormatException.For(path, $"BOS id {BosId} or EOS id {EosId} is outside the vocabulary of {VocabSize}");
        }

        foreach (int id in StopTokenIds)
        {
            if (id < 0 || id >= VocabSize)
            {
                throw ModelFormatException.For(path, $"end-of-sequence id {id} is outside the vocabulary of {VocabSize}");
            }
        }
    }

    /// <summary>A one-line description used in error messages.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Architecture}: dim {Dim}, hidden {HiddenDim}, {NumLayers} layers, {NumHeads} heads, {NumKvHeads} kv heads, head size {HeadSize}, vocab {VocabSize}, seq_len {MaxSeqLen}");

    private static void CheckRange(string path, string name, int value, int max)
    {
        if (value <= 0 || value > max)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"{name} is {value}; it must be between 1 and {max}"));
        }
    }
}
