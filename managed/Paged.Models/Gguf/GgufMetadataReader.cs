using System.Globalization;
using System.Text;

namespace Paged.Models.Gguf;

/// <summary>Bounds-checked little-endian reader for the GGUF header, metadata and tensor directory.</summary>
internal sealed class GgufMetadataReader(string path, Stream stream) : IDisposable
{
    private const int MaxArrayDepth = 4;
    private readonly BinaryReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);
    private readonly long _length = stream.Length;

    public long Position => stream.Position;

    public long Remaining => _length - stream.Position;

    public uint ReadU32() { Need(4, "a 32-bit value"); return _reader.ReadUInt32(); }

    public ulong ReadU64() { Need(8, "a 64-bit value"); return _reader.ReadUInt64(); }

    /// <summary>A 64-bit count that must fit in the rest of the file at <paramref name="minBytesEach"/> bytes per item.</summary>
    public long ReadCount(string what, long minBytesEach)
    {
        ulong n = ReadU64();
        if (n > (ulong)(Remaining / Math.Max(1, minBytesEach)))
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what} is {n}, more than the {Remaining} remaining bytes can hold; the file is corrupt or truncated"));
        }

        return (long)n;
    }

    public string ReadString()
    {
        long n = ReadCount("string length", 1);
        return Encoding.UTF8.GetString(_reader.ReadBytes((int)n));
    }

    public object ReadValue(GgufValueType type, int depth = 0)
    {
        switch (type)
        {
            case GgufValueType.UInt8: Need(1, "a uint8"); return _reader.ReadByte();
            case GgufValueType.Int8: Need(1, "an int8"); return _reader.ReadSByte();
            case GgufValueType.UInt16: Need(2, "a uint16"); return _reader.ReadUInt16();
            case GgufValueType.Int16: Need(2, "an int16"); return _reader.ReadInt16();
            case GgufValueType.UInt32: return ReadU32();
            case GgufValueType.Int32: Need(4, "an int32"); return _reader.ReadInt32();
            case GgufValueType.Float32: Need(4, "a float32"); return _reader.ReadSingle();
            case GgufValueType.Bool: Need(1, "a bool"); return _reader.ReadByte() != 0;
            case GgufValueType.String: return ReadString();
            case GgufValueType.UInt64: return ReadU64();
            case GgufValueType.Int64: Need(8, "an int64"); return _reader.ReadInt64();
            case GgufValueType.Float64: Need(8, "a float64"); return _reader.ReadDouble();
            case GgufValueType.Array: return ReadArray(depth);
            default: throw Fail($"unknown metadata value type {(int)type}");
        }
    }

    public GgufValueType ReadValueType()
    {
        uint t = ReadU32();
        if (t > (uint)GgufValueType.Float64)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"unknown metadata value type {t} at byte {Position - 4}"));
        }

        return (GgufValueType)t;
    }

    private Array ReadArray(int depth)
    {
        if (depth >= MaxArrayDepth)
        {
            throw Fail("metadata arrays are nested too deeply");
        }

        var elementType = ReadValueType();
        long count = ReadCount("array length", elementType is GgufValueType.Array or GgufValueType.String ? 8 : 1);
        Array result = elementType switch
        {
            GgufValueType.UInt8 => new byte[count],
            GgufValueType.Int8 => new sbyte[count],
            GgufValueType.UInt16 => new ushort[count],
            GgufValueType.Int16 => new short[count],
            GgufValueType.UInt32 => new uint[count],
            GgufValueType.Int32 => new int[count],
            GgufValueType.Float32 => new float[count],
            GgufValueType.Bool => new bool[count],
            GgufValueType.String => new string[count],
            GgufValueType.UInt64 => new ulong[count],
            GgufValueType.Int64 => new long[count],
            GgufValueType.Float64 => new double[count],
            _ => new object[count],
        };
        for (long i = 0; i < count; i++)
        {
            result.SetValue(ReadValue(elementType, depth + 1), i);
        }

        return result;
    }

    public ModelFormatException Fail(string problem) => ModelFormatException.For(path, problem);

    private void Need(int bytes, string what)
    {
        if (Remaining < bytes)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture,
                $"file ends at byte {_length} while reading {what}; the file is truncated"));
        }
    }

    public void Dispose() => _reader.Dispose();
}
