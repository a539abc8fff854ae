using System.Globalization;
using Paged.Models.Weights;

namespace Paged.Models;

/// <summary>
/// A model's weights on the host: its config and named tensors (<see cref="WeightNames"/>), either fp32 arrays or
/// views of memory-mapped files, which this object keeps open until disposed.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly Dictionary<string, WeightTensor> _tensors = new(StringComparer.Ordinal);
    private readonly List<WeightTensor> _ordered = [];
    private readonly IDisposable[] _owned;

    public ModelWeights(ModelConfig config, string sourcePath, IEnumerable<WeightTensor> tensors, IEnumerable<IDisposable>? owned = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(sourcePath);
        ArgumentNullException.ThrowIfNull(tensors);
        Config = config;
        SourcePath = sourcePath;
        _owned = owned?.ToArray() ?? [];
        foreach (var t in tensors)
        {
            if (!_tensors.TryAdd(t.Name, t))
                throw ModelFormatException.For(sourcePath, $"tensor {t.Name} appears twice");
            _ordered.Add(t);
        }
    }

    public ModelConfig Config { get; }

    public string SourcePath { get; }

    /// <summary>Every tensor, in the order the loader listed them.</summary>
    public IReadOnlyList<WeightTensor> AllTensors => _ordered;

    public long ParameterCount => _ordered.Sum(t => t.ElementCount);

    public WeightTensor? Find(string name) => _tensors.GetValueOrDefault(name);

    /// <summary>The tensor <paramref name="name"/> with exactly <paramref name="shape"/>, or a <see cref="ModelFormatException"/> saying what is wrong.</summary>
    public WeightTensor Require(string name, params long[] shape) =>
        Optional(name, shape) ?? throw ModelFormatException.For(SourcePath,
            $"tensor {name} is missing ({Config.Architecture} with this config needs it, shape [{string.Join(", ", shape)}])");

    /// <summary>Like <see cref="Require"/> but null when absent; a present tensor must still have the shape.</summary>
    public WeightTensor? Optional(string name, params long[] shape)
    {
        if (!_tensors.TryGetValue(name, out var t))
            return null;
        if (!t.HasShape(shape))
        {
            throw ModelFormatException.For(SourcePath, string.Create(CultureInfo.InvariantCulture,
                $"tensor {name} has shape {t.ShapeText} but the config ({Config.Describe()}) needs [{string.Join(", ", shape)}]"));
        }

        return t;
    }

    /// <summary>The output classifier: lm_head, or the embedding when the config ties them.</summary>
    public WeightTensor Classifier =>
        Config.SharedClassifier ? Require(WeightNames.Embedding, Config.VocabSize, Config.Dim) : Require(WeightNames.Classifier, Config.VocabSize, Config.Dim);

    /// <summary>Checks every tensor the architecture needs is present with its shape (extra tensors are ignored).</summary>
    public void CheckTensors()
    {
        foreach (var (name, shape) in ModelRegistry.ForHf(Config.Architecture, SourcePath).ExpectedTensors(Config))
            Require(name, shape);
    }

    /// <summary>Throws if any fp32 tensor (a host array or mapped) holds a NaN or infinity, naming it (half tensors are checked as they upload).</summary>
    public void CheckFinite()
    {
        var chunk = new float[1 << 16];
        foreach (var t in _ordered)
        {
            if (t.DType != WeightDType.F32)
                continue;
            for (long done = 0; done < t.ElementCount; done += chunk.Length)
            {
                var span = chunk.AsSpan(0, (int)Math.Min(chunk.Length, t.ElementCount - done));
                t.ReadF32(done, span);
                long bad = FloatChecks.IndexOfNonFinite(span);
                if (bad >= 0)
                    throw ModelFormatException.For(SourcePath, $"tensor {t.Name} has a non-finite value ({span[(int)bad]}) at element {done + bad}");
            }
        }
    }

    public void Dispose()
    {
        foreach (var d in _owned)
            d.Dispose();
    }
}
