using Paged.Models.Weights;
using System.Buffers.Binary;
using Paged.Models.Gguf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests.Fuzzing;

/// <summary>A valid input to mutate, and how many leading bytes hold the format's header/directory.</summary>
internal sealed record FuzzSeed(string Name, byte[] Bytes, int HeaderBytes);

/// <summary>Small valid files of each format, covering the branches a parser has (shared or separate classifier, every supported tensor type, tokenizer metadata).</summary>
internal static class FuzzSeeds
{
    private static readonly ModelConfig TinyConfig = new()
    {
        Dim = 32, HiddenDim = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = 300, MaxSeqLen = 16,
    };

    public static IReadOnlyList<FuzzSeed> For(string format, TempDir dir) => format switch
    {
        "llama2c" => Llama2c(dir),
        "tokenizer" => [new("tok512.bin", File.ReadAllBytes(TestPaths.Tok512), int.MaxValue), new("synthetic-300", SyntheticTokenizer(dir), int.MaxValue)],
        "gguf" => Gguf(dir),
        _ => throw new ArgumentException(format, nameof(format)),
    };

    private static List<FuzzSeed> Llama2c(TempDir dir)
    {
        string path = dir.File("seed.bin");
        RandomModelWriter.WriteLlama2c(path, TinyConfig, 3);
        byte[] shared = File.ReadAllBytes(path);
        // A separate classifier: negative vocab in the header and the classifier after the RoPE tables.
        int vocabBytes = TinyConfig.VocabSize * TinyConfig.Dim * sizeof(float);
        byte[] separate = [.. shared, .. shared.AsSpan(Llama2cCheckpoint.HeaderBytes, vocabBytes)];
        BinaryPrimitives.WriteInt32LittleEndian(separate.AsSpan(20), -TinyConfig.VocabSize);
        return [new("tiny-shared", shared, Llama2cCheckpoint.HeaderBytes), new("tiny-separate", separate, Llama2cCheckpoint.HeaderBytes)];
    }

    private static byte[] SyntheticTokenizer(TempDir dir)
    {
        string path = dir.File("tok300.bin");
        RandomModelWriter.WriteSyntheticTokenizer(path, 300);
        return File.ReadAllBytes(path);
    }

    private static List<FuzzSeed> Gguf(TempDir dir)
    {
        byte[] tiny = TinyGguf(dir).ToBytes();
        byte[] real = File.ReadAllBytes(TestPaths.Gguf);
        return [new("tiny-mixed-types", tiny, HeaderOf(dir, tiny)), new("stories260K.gguf", real, HeaderOf(dir, real))];
    }

    private static int HeaderOf(TempDir dir, byte[] bytes)
    {
        string path = dir.File("header.gguf");
        File.WriteAllBytes(path, bytes);
        return (int)GgufFile.Open(path).DataOffset;
    }

    /// <summary>
    /// A complete one-vocabulary llama GGUF (dim 32, 2 layers, GQA 2, vocab 300) with a Q8_0 embedding, an F16
    /// classifier, BF16 query weights, F32 elsewhere, and llama tokenizer metadata.
    /// </summary>
    public static GgufTestWriter TinyGguf(TempDir dir)
    {
        string binPath = dir.File("tiny-for-gguf.bin");
        RandomModelWriter.WriteLlama2c(binPath, TinyConfig, 5);
        var weights = Llama2cCheckpoint.Load(binPath);
        var w = GgufTestWriter.FromWeights(weights);
        string tokPath = dir.File("tiny-for-gguf-tok.bin");
        RandomModelWriter.WriteSyntheticTokenizer(tokPath, TinyConfig.VocabSize);
        var tok = Llama2cTokenizerFile.Load(tokPath);
        var pieces = new string[tok.VocabSize];
        var types = new int[tok.VocabSize];
        for (int i = 0; i < pieces.Length; i++)
        {
            types[i] = (int)tok.PieceType(i);
            pieces[i] = tok.PieceType(i) switch
            {
                TokenPieceType.Unknown => "<unk>",
                TokenPieceType.Control => i == tok.BosId ? "<s>" : "</s>",
                TokenPieceType.Byte => $"<0x{tok.PieceBytes(i)[0]:X2}>",
                _ => System.Text.Encoding.UTF8.GetString(tok.PieceBytes(i)).Replace(' ', '\u2581'),
            };
        }

        return w.String("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", pieces)
            .Floats("tokenizer.ggml.scores", [.. Enumerable.Range(0, pieces.Length).Select(i => -(float)i)])
            .Ints("tokenizer.ggml.token_type", types)
            .UInt32("tokenizer.ggml.bos_token_id", 1)
            .UInt32("tokenizer.ggml.eos_token_id", 2)
            .Retype("token_embd.weight", (uint)GgufTensorType.Q8_0, Q8(weights.Find(WeightNames.Embedding)!.ToArray()))
            .Retype("blk.0.attn_q.weight", (uint)GgufTensorType.BF16, Bf16(weights.Find(WeightNames.Layer(0, WeightNames.QProj))!.ToArray()))
            .Retype("blk.1.attn_k.weight", (uint)GgufTensorType.F16, F16(weights.Find(WeightNames.Layer(1, WeightNames.KProj))!.ToArray()))
            .Tensor("output.weight", [TinyConfig.Dim, TinyConfig.VocabSize], (uint)GgufTensorType.F16, F16(weights.Find(WeightNames.Embedding)!.ToArray()));
    }

    /// <summary>F16 bytes of <paramref name="values"/>.</summary>
    public static byte[] F16(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
        return bytes;
    }

    /// <summary>BF16 bytes of <paramref name="values"/> (truncated).</summary>
    public static byte[] Bf16(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
        return bytes;
    }

    /// <summary>Q8_0 bytes of <paramref name="values"/> (rows of a multiple of 32): per 32 values a half scale and 32 int8.</summary>
    public static byte[] Q8(float[] values)
    {
        var bytes = new byte[values.Length / 32 * 34];
        for (int b = 0; b < values.Length / 32; b++)
        {
            var block = values.AsSpan(b * 32, 32);
            float amax = 0;
            foreach (float v in block)
                amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127f;
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * 34), (Half)d);
            for (int j = 0; j < 32; j++)
                bytes[(b * 34) + 2 + j] = (byte)(sbyte)(d == 0 ? 0 : Math.Round(block[j] / d));
        }

        return bytes;
    }
}
