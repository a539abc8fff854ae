using Paged.Models.Weights;

namespace Paged.Models.Hf;

/// <summary>
/// A memory-mapped .safetensors file: its validated header and a <see cref="WeightTensor"/> view per floating-point
/// tensor (F32, F16, BF16). Integer tensors (buffers such as position ids) are listed but not offered as weights;
/// other float types are refused.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly MappedFile _file;

    private SafetensorsFile(MappedFile file, long dataOffset, List<SafetensorsEntry> entries, List<WeightTensor> tensors)
    {
        _file = file;
        DataOffset = dataOffset;
        Entries = entries;
        Tensors = tensors;
    }

    public string Path => _file.Path;

    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; }

    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    public IReadOnlyList<WeightTensor> Tensors { get; }

    public static SafetensorsFile Open(string path)
    {
        Llama2cCheckpoint.EnsureLittleEndian();
        var file = MappedFile.Open(path);
        try
        {
            long headerBytes = SafetensorsHeader.ReadLength(path, file.Span(0, (int)Math.Min(8, file.Length)), file.Length);
            long dataOffset = 8 + headerBytes;
            var entries = SafetensorsHeader.Parse(path, file.Span(8, (int)headerBytes), file.Length - dataOffset);
            var tensors = new List<WeightTensor>(entries.Count);
            foreach (var e in entries)
            {
                WeightDType? type = e.DType switch
                {
                    "F32" => WeightDType.F32,
                    "F16" => WeightDType.F16,
                    "BF16" => WeightDType.BF16,
                    "F64" or "F8_E5M2" or "F8_E4M3" or "F8_E8M0" => throw ModelFormatException.For(path,
                        $"tensor {e.Name} has dtype {e.DType}; supported weight types are F32, F16 and BF16"),
                    _ => null,
                };
                if (type is { } t)
                    tensors.Add(new WeightTensor(e.Name, t, e.Shape, file, dataOffset + e.Begin));
            }

            return new SafetensorsFile(file, dataOffset, entries, tensors);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => _file.Dispose();
}
