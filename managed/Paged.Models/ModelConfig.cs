using System.Globalization;

namespace Paged.Models;

/// <summary>Shape and hyper-parameters of a Llama-architecture model, as read from a model file.</summary>
public sealed record ModelConfig
{
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

    /// <summary>True when the output classifier is the token embedding matrix.</summary>
    public bool SharedClassifier { get; init; } = true;

    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;

    /// <summary>
    /// Token ids that end a sequence. Both loaders use {EOS, BOS}: llama2.c-trained models (stories*) end a story
    /// by emitting BOS rather than EOS, and the reference implementation stops on BOS.
    /// </summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [2, 1];

    public int HeadSize => Dim / NumHeads;
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
        if (Dim % NumHeads != 0)
        {
            throw ModelFormatException.For(path, $"n_heads {NumHeads} does not divide dim {Dim}");
        }

        if (NumHeads % NumKvHeads != 0)
        {
            throw ModelFormatException.For(path, $"n_kv_heads {NumKvHeads} does not divide n_heads {NumHeads}");
        }

        if (HeadSize % 2 != 0)
        {
            throw ModelFormatException.For(path, $"head size {HeadSize} (dim {Dim} / n_heads {NumHeads}) is odd; RoPE needs an even head size");
        }

        if (!(NormEps > 0f && NormEps < 1f))
        {
            throw ModelFormatException.For(path, $"RMSNorm epsilon {NormEps.ToString(CultureInfo.InvariantCulture)} is not in (0, 1)");
        }

        if (!(RopeTheta > 0f) || float.IsInfinity(RopeTheta))
        {
            throw ModelFormatException.For(path, $"RoPE theta {RopeTheta.ToString(CultureInfo.InvariantCulture)} is not a positive number");
        }

        if (BosId < 0 || BosId >= VocabSize || EosId < 0 || EosId >= VocabSize)
        {
            throw ModelFormatException.For(path, $"BOS id {BosId} or EOS id {EosId} is outside the vocabulary of {VocabSize}");
        }
    }

    /// <summary>A one-line description used in error messages.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture,
            $"dim {Dim}, hidden {HiddenDim}, {NumLayers} layers, {NumHeads} heads, {NumKvHeads} kv heads, vocab {VocabSize}, seq_len {MaxSeqLen}");

    private static void CheckRange(string path, string name, int value, int max)
    {
        if (value <= 0 || value > max)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"{name} is {value}; it must be between 1 and {max}"));
        }
    }
}
