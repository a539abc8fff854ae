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

        long actual = new FileInfo(path).Length;
        if (actual < HeaderBytes)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"file is {actual} bytes, shorter than the {HeaderBytes}-byte llama2.c header; the file is truncated or not a llama2.c checkpoint"));
        }

        // Mapped, not read: tensors are views of the file (the CPU backend then uses them in place).
        var file = MappedFile.Open(path);
        try
        {
            var config = ParseHeader(path, file.Span(0, HeaderBytes));
            long expected = ExpectedFileBytes(config);
            if (actual != expected)
            {
                string why = actual < expected ? "the file is truncated" : "the file has trailing bytes (wrong format or a different model?)";
                throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                    $"file is {actual} bytes but the header ({config.Describe()}) needs {expected} bytes; {why}"));
            }

            var weights = new ModelWeights(config, path, MapTensors(file, config), [file]);
            weights.CheckTensors();
            weights.CheckFinite();
            return weights;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tensors in file order (each kind stacked over all layers) under their canonical names.</summary>
    private static List<WeightTensor> MapTensors(MappedFile file, ModelConfig config)
    {
        long dim = config.Dim, kv = config.KvDim, hidden = config.HiddenDim, vocab = config.VocabSize;
        long offset = HeaderBytes;
        WeightTensor Next(string name, params long[] shape)
        {
            var t = new WeightTensor(name, WeightDType.F32, shape, file, offset);
            offset += t.ByteCount;
            return t;
        }

        var tensors = new List<WeightTensor> { Next(WeightNames.Embedding, vocab, dim) };
        (string Name, long Rows, long Cols)[] perLayer =
        [
            (WeightNames.AttnNorm, dim, 0), (WeightNames.QProj, dim, dim), (WeightNames.KProj, kv, dim), (WeightNames.VProj, kv, dim),
            (WeightNames.OProj, dim, dim), (WeightNames.FfnNorm, dim, 0), (WeightNames.Gate, hidden, dim), (WeightNames.Down, dim, hidden),
            (WeightNames.Up, hidden, dim),
        ];
        foreach (var (name, rows, cols) in perLayer)
        {
            for (int l = 0; l < config.NumLayers; l++)
                tensors.Add(cols == 0 ? Next(WeightNames.Layer(l, name), rows) : Next(WeightNames.Layer(l, name), rows, cols));
        }

        tensors.Add(Next(WeightNames.FinalNorm, dim));
        offset += RopeTableBytes(config);
        if (!config.SharedClassifier)
            tensors.Add(Next(WeightNames.Classifier, vocab, dim));
        return tensors;
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

    internal static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Model files are little-endian; big-endian hosts are not supported.");
        }
    }
}
