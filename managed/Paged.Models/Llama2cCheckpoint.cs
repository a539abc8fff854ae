using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Paged.Models.Weights;

namespace Paged.Models;

/// <summary>Reads llama2.c "legacy" fp32 checkpoints (see shared/models/README.md).</summary>
public static class Llama2cCheckpoint
{
    public const int HeaderBytes = 7 * sizeof(int);

    /// <summary>Loads and validates a checkpoint; errors are <see cref="ModelFormatException"/>s naming the file.</summary>
    public static ModelWeights Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        EnsureLittleEndian();
        if (!File.Exists(path))
        {
            throw ModelFormatException.For(path, "file not found");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        long actual = stream.Length;
        if (actual < HeaderBytes)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"file is {actual} bytes, shorter than the {HeaderBytes}-byte llama2.c header; the file is truncated or not a llama2.c checkpoint"));
        }

        Span<byte> header = stackalloc byte[HeaderBytes];
        stream.ReadExactly(header);
        var config = ParseHeader(path, header);
        long expected = ExpectedFileBytes(config);
        if (actual != expected)
        {
            string why = actual < expected ? "the file is truncated" : "the file has trailing bytes (wrong format or a different model?)";
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"file is {actual} bytes but the header ({config.Describe()}) needs {expected} bytes; {why}"));
        }

        var tensors = ReadTensors(stream, config);
        var weights = new ModelWeights(config, path, tensors);
        weights.CheckTensors();
        weights.CheckFinite();
        return weights;
    }

    /// <summary>Reads the tensors in file order (each kind stacked over all layers) under their canonical names.</summary>
    private static List<WeightTensor> ReadTensors(Stream stream, ModelConfig config)
    {
        long dim = config.Dim, kv = config.KvDim, hidden = config.HiddenDim, vocab = config.VocabSize;
        var tensors = new List<WeightTensor> { Read(stream, WeightNames.Embedding, vocab, dim) };
        (string Name, long Rows, long Cols)[] perLayer =
        [
            (WeightNames.AttnNorm, dim, 0), (WeightNames.QProj, dim, dim), (WeightNames.KProj, kv, dim), (WeightNames.VProj, kv, dim),
            (WeightNames.OProj, dim, dim), (WeightNames.FfnNorm, dim, 0), (WeightNames.Gate, hidden, dim), (WeightNames.Down, dim, hidden),
            (WeightNames.Up, hidden, dim),
        ];
        foreach (var (name, rows, cols) in perLayer)
        {
            for (int l = 0; l < config.NumLayers; l++)
                tensors.Add(cols == 0 ? Read(stream, WeightNames.Layer(l, name), rows) : Read(stream, WeightNames.Layer(l, name), rows, cols));
        }

        tensors.Add(Read(stream, WeightNames.FinalNorm, dim));
        stream.Seek(RopeTableBytes(config), SeekOrigin.Current);
        if (!config.SharedClassifier)
            tensors.Add(Read(stream, WeightNames.Classifier, vocab, dim));
        return tensors;
    }

    private static WeightTensor Read(Stream stream, string name, params long[] shape)
    {
        var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
        ReadFloats(stream, data);
        return new WeightTensor(name, data, shape);
    }

    /// <summary>Parses and validates the 7-int32 header.</summary>
    internal static ModelConfig ParseHeader(string path, ReadOnlySpan<byte> header)
    {
        Span<int> f = stackalloc int[7];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = BinaryPrimitives.ReadInt32LittleEndian(header.Slice(i * 4, 4));
        }

        int vocab = f[5];
        var config = new ModelConfig
        {
            Dim = f[0],
            HiddenDim = f[1],
            NumLayers = f[2],
            NumHeads = f[3],
            NumKvHeads = f[4],
            VocabSize = vocab == int.MinValue ? 0 : Math.Abs(vocab),
            MaxSeqLen = f[6],
            SharedClassifier = vocab > 0,
            BosId = 1,
            EosId = 2,
            StopTokenIds = [2, 1],
        };
        config.Validate(path);
        return config;
    }

    /// <summary>Exact size in bytes of a checkpoint with this configuration.</summary>
    public static long ExpectedFileBytes(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long dim = config.Dim, hidden = config.HiddenDim, layers = config.NumLayers, kv = config.KvDim, vocab = config.VocabSize;
        long floats = vocab * dim
            + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim)
            + dim;
        if (!config.SharedClassifier)
        {
            floats += vocab * dim;
        }

        return HeaderBytes + floats * sizeof(float) + RopeTableBytes(config);
    }

    /// <summary>Bytes of the two legacy RoPE tables (freq_cis_real, freq_cis_imag) that the loader skips.</summary>
    internal static long RopeTableBytes(ModelConfig config) => 2L * config.MaxSeqLen * (config.HeadSize / 2) * sizeof(float);

    internal static void ReadFloats(Stream stream, Span<float> destination)
    {
        // Chunked so that the byte view of a > 2 GiB tensor never overflows a span length.
        const int chunk = 1 << 26;
        while (!destination.IsEmpty)
        {
            int n = Math.Min(chunk, destination.Length);
            stream.ReadExactly(MemoryMarshal.AsBytes(destination[..n]));
            destination = destination[n..];
        }
    }

    internal static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Model files are little-endian; big-endian hosts are not supported.");
        }
    }
}
