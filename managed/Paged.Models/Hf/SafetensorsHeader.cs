using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;

namespace Paged.Models.Hf;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Parser of the safetensors header (8-byte little-endian length, then a JSON object name -> {dtype, shape,
/// data_offsets}, optional "__metadata__"). The header is untrusted: every entry is checked against the file size,
/// for known dtypes, sane shapes, sizes that agree with the offsets, no overlaps and no duplicate names.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>The format's own cap on the header (safetensors' MAX_HEADER_SIZE).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Most dimensions a tensor may have.</summary>
    public const int MaxRank = 8;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1, ["F8_E8M0"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4, ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    /// <summary>Byte size of one element of a safetensors dtype, or 0 when the dtype is unknown.</summary>
    public static int ElementSize(string dtype) => ElementSizes.GetValueOrDefault(dtype);

    /// <summary>Reads the length prefix; returns the header length after checking it fits a file of <paramref name="fileLength"/> bytes.</summary>
    public static long ReadLength(string path, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (fileLength < 8 || prefix.Length < 8)
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"file is {fileLength} bytes, too short for a safetensors header length"));
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n < 2 || n > MaxHeaderBytes || (long)n > fileLength - 8)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"safetensors header length {n} is impossible for a {fileLength}-byte file (at least 2, at most {Math.Min(MaxHeaderBytes, fileLength - 8)})"));
        }

        return (long)n;
    }

    /// <summary>Parses and validates the JSON header against a data section of <paramref name="dataBytes"/> bytes.</summary>
    public static List<SafetensorsEntry> Parse(string path, ReadOnlySpan<byte> json, long dataBytes)
    {
        var entries = new List<SafetensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            Expect(path, ref reader, JsonTokenType.StartObject, "the header");
            while (Next(path, ref reader) != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                if (!names.Add(name))
                    throw Fail(path, $"tensor {name} appears twice");
                if (name == "__metadata__")
                {
                    ReadMetadata(path, ref reader);
                    continue;
                }

                entries.Add(ReadEntry(path, ref reader, name, dataBytes));
            }

            if (reader.Read())
                throw Fail(path, "trailing content after the header object");
        }
        catch (JsonException e)
        {
            throw Fail(path, $"invalid JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString on a name that is not valid UTF-8.
            throw Fail(path, $"invalid text: {e.Message}");
        }

        CheckNoOverlap(path, entries);
        return entries;
    }

    private static SafetensorsEntry ReadEntry(string path, ref Utf8JsonReader reader, string name, long dataBytes)
    {
        Expect(path, ref reader, JsonTokenType.StartObject, $"tensor {name}");
        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (Next(path, ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            switch (key)
            {
                case "dtype":
                    Expect(path, ref reader, JsonTokenType.String, $"tensor {name} dtype");
                    dtype = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntegers(path, ref reader, $"tensor {name} shape", MaxRank);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(path, ref reader, $"tensor {name} data_offsets", 2);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
            throw Fail(path, $"tensor {name} lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}");
        int size = ElementSize(dtype);
        if (size == 0)
            throw Fail(path, $"tensor {name} has unknown dtype {dtype}");
        if (offsets.Length != 2)
            throw Fail(path, $"tensor {name} data_offsets has {offsets.Length} entries; expected [begin, end]");
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataBytes)
        {
            throw Fail(path, string.Create(CultureInfo.InvariantCulture,
                $"tensor {name} data_offsets [{begin}, {end}] are outside the {dataBytes}-byte data section (or reversed); the file is truncated or corrupt"));
        }

        long elements = 1;
        foreach (long d in shape)
        {
            // Every tensor must fit the file, so any product beyond its size is absurd (and this cannot overflow).
            if (d > dataBytes || (d > 0 && elements > dataBytes / d))
                throw Fail(path, $"tensor {name} shape [{string.Join(", ", shape)}] is absurd for a {dataBytes}-byte data section");
            elements *= d;
        }

        if (elements * size != end - begin)
        {
            throw Fail(path, string.Create(CultureInfo.InvariantCulture,
                $"tensor {name}: {dtype} shape [{string.Join(", ", shape)}] needs {elements * size} bytes but data_offsets [{begin}, {end}] hold {end - begin}"));
        }

        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static void ReadMetadata(string path, ref Utf8JsonReader reader)
    {
        Expect(path, ref reader, JsonTokenType.StartObject, "__metadata__");
        while (Next(path, ref reader) != JsonTokenType.EndObject)
            Expect(path, ref reader, JsonTokenType.String, "a __metadata__ value");
    }

    private static long[] ReadIntegers(string path, ref Utf8JsonReader reader, string what, int max)
    {
        Expect(path, ref reader, JsonTokenType.StartArray, what);
        var values = new List<long>();
        while (Next(path, ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw Fail(path, $"{what} holds a value that is not a non-negative integer");
            if (values.Count == max)
                throw Fail(path, $"{what} has more than {max} entries");
            values.Add(v);
        }

        return [.. values];
    }

    private static void CheckNoOverlap(string path, List<SafetensorsEntry> entries)
    {
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
            {
                throw Fail(path, string.Create(CultureInfo.InvariantCulture,
                    $"tensors {sorted[i - 1].Name} [{sorted[i - 1].Begin}, {sorted[i - 1].End}) and {sorted[i].Name} [{sorted[i].Begin}, {sorted[i].End}) overlap"));
            }
        }
    }

    private static JsonTokenType Next(string path, ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw Fail(path, "the header JSON ends early");

    private static void Expect(string path, ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        if (Next(path, ref reader) != type)
            throw Fail(path, $"{what} is {reader.TokenType}; expected {type}");
    }

    private static ModelFormatException Fail(string path, string problem) => ModelFormatException.For(path, "safetensors header: " + problem);
}
