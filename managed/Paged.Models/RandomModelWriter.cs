using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Paged.Models;

/// <summary>
/// Writes llama2.c-format checkpoints with deterministic random weights (uniform ±0.05, norms 1, shared classifier)
/// and synthetic llama2.c tokenizers, for benchmarks with real model shapes. Output is streamed in chunks.
/// </summary>
public static class RandomModelWriter
{
    private const float Amplitude = 0.05f;
    private const int ChunkFloats = 1 << 16;

    public static void WriteLlama2c(string path, ModelConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(path);
        if (config.AttentionBias || config.QkNorm || config.SlidingWindow > 0 || config.HeadSize != config.Dim / config.NumHeads
            || config.RopeScaling.Type != RopeScalingType.None || !config.SharedClassifier)
        {
            throw new ArgumentException($"a llama2.c checkpoint cannot express {config.Describe()} (biases, q/k norm, a sliding window, " +
                "head_dim other than dim/heads, RoPE scaling or an untied classifier); use --format hf or gguf");
        }

        Llama2cCheckpoint.EnsureLittleEndian();
        long dim = config.Dim, hidden = config.HiddenDim, layers = config.NumLayers, kv = config.KvDim;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> header = stackalloc byte[Llama2cCheckpoint.HeaderBytes];
        int[] fields = [config.Dim, config.HiddenDim, config.NumLayers, config.NumHeads, config.NumKvHeads, config.VocabSize, config.MaxSeqLen];
        for (int i = 0; i < fields.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(header[(i * 4)..], fields[i]);
        }

        stream.Write(header);
        var rng = new SplitMix64(seed);
        var buffer = new float[ChunkFloats];
        WriteRandom(stream, buffer, ref rng, config.VocabSize * dim);
        WriteConstant(stream, buffer, 1f, layers * dim);
        WriteRandom(stream, buffer, ref rng, layers * dim * dim);
        WriteRandom(stream, buffer, ref rng, layers * kv * dim * 2);
        WriteRandom(stream, buffer, ref rng, layers * dim * dim);
        WriteConstant(stream, buffer, 1f, layers * dim);
        WriteRandom(stream, buffer, ref rng, layers * hidden * dim * 3);
        WriteConstant(stream, buffer, 1f, dim);
        WriteConstant(stream, buffer, 0f, Llama2cCheckpoint.RopeTableBytes(config) / sizeof(float));
    }

    /// <summary>
    /// Writes a valid llama2.c tokenizer with <paramref name="vocabSize"/> unique pieces: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;,
    /// 256 byte pieces, then printable ASCII characters, then ever longer ASCII strings, with decreasing scores.
    /// </summary>
    public static void WriteSyntheticTokenizer(string path, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(path);
        var pieces = SyntheticPieces(vocabSize);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        int maxLength = 0;
        foreach (string p in pieces)
        {
            maxLength = Math.Max(maxLength, Encoding.UTF8.GetByteCount(p));
        }

        writer.Write(maxLength);
        for (int i = 0; i < pieces.Count; i++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(pieces[i]);
            writer.Write(i < 259 ? 0f : -(float)(i - 259));
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
    }

    /// <summary>
    /// <paramref name="vocabSize"/> unique pieces: &lt;unk&gt;, BOS ("\n&lt;s&gt;\n"), EOS, the 256 byte pieces, then printable ASCII
    /// characters and ever longer ASCII strings (score -(i - 259) for piece i).
    /// </summary>
    public static List<string> SyntheticPieces(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 259);
        var pieces = new List<string>(vocabSize) { "<unk>", "\n<s>\n", "\n</s>\n" };
        for (int b = 0; b < 256; b++)
        {
            pieces.Add(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"));
        }

        const string alphabet = " etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ.,!?'\"-0123456789:;()[]{}<>/\\|@#$%^&*_+=~`";
        var seen = new HashSet<string>(pieces, StringComparer.Ordinal);
        var frontier = new List<string> { string.Empty };
        while (pieces.Count < vocabSize)
        {
            var next = new List<string>();
            foreach (string prefix in frontier)
            {
                foreach (char c in alphabet)
                {
                    string piece = prefix + c;
                    next.Add(piece);
                    if (pieces.Count < vocabSize && seen.Add(piece))
                    {
                        pieces.Add(piece);
                    }
                }

                if (pieces.Count >= vocabSize)
                {
                    break;
                }
            }

            frontier = next;
        }

        return pieces;
    }

    private static void WriteRandom(Stream stream, float[] buffer, ref SplitMix64 rng, long count)
    {
        while (count > 0)
        {
            int n = (int)Math.Min(count, buffer.Length);
            for (int i = 0; i < n; i++)
            {
                buffer[i] = rng.NextUniform() * Amplitude;
            }

            stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, n)));
            count -= n;
        }
    }

    private static void WriteConstant(Stream stream, float[] buffer, float value, long count)
    {
        Array.Fill(buffer, value);
        while (count > 0)
        {
            int n = (int)Math.Min(count, buffer.Length);
            stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, n)));
            count -= n;
        }
    }
}
