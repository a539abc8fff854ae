using System.Buffers.Binary;
using System.Globalization;

namespace Paged.Models.Tests.Fuzzing;

/// <summary>
/// Seeded byte-level mutations of a valid file: bit flips, interesting byte/u32/u64 values (huge lengths,
/// counts and offsets, sign bits, near-powers of two), small arithmetic on length fields, truncation, and
/// swapped, duplicated or deleted sections. Most mutations land in the file's header region (directory,
/// metadata), where the parser's decisions are made; some land anywhere.
/// </summary>
internal static class Mutator
{
    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 32, 33, 48, 64, 127, 128, 255, 256, 1023, 1024, 4096, 65535, 65536,
        1UL << 20, 1UL << 24, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF,
        0x8000000000000000, ulong.MaxValue, ulong.MaxValue - 1,
    ];

    /// <summary>Applies 1 to 4 stacked mutations; returns the new bytes and what was done (for failure reports).</summary>
    public static (byte[] Data, string What) Mutate(byte[] seed, int headerBytes, Random r)
    {
        var data = (byte[])seed.Clone();
        var what = new List<string>();
        int count = r.Next(3) == 0 ? r.Next(2, 5) : 1;
        for (int m = 0; m < count && data.Length > 0; m++)
        {
            data = MutateOnce(data, Math.Clamp(headerBytes, 1, data.Length), r, what);
        }

        return (data, string.Join("; ", what));
    }

    private static byte[] MutateOnce(byte[] d, int header, Random r, List<string> what)
    {
        int Pos() => r.Next(4) != 0 ? r.Next(header) : r.Next(d.Length);
        int pos = Pos();
        switch (r.Next(10))
        {
            case 0:
            {
                int bit = r.Next(8);
                d[pos] ^= (byte)(1 << bit);
                what.Add(F($"flip bit {bit} of byte {pos}"));
                return d;
            }

            case 1:
            {
                byte v = r.Next(2) == 0 ? (byte)r.Next(256) : (byte)Interesting[r.Next(Interesting.Length)];
                d[pos] = v;
                what.Add(F($"byte {pos} = {v}"));
                return d;
            }

            case 2 or 3:
            {
                if (pos > d.Length - 4)
                    return d;
                uint v = (uint)Interesting[r.Next(Interesting.Length)];
                BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(pos), v);
                what.Add(F($"u32 at {pos} = {v}"));
                return d;
            }

            case 4:
            {
                if (pos > d.Length - 8)
                    return d;
                ulong v = Interesting[r.Next(Interesting.Length)];
                BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(pos), v);
                what.Add(F($"u64 at {pos} = {v}"));
                return d;
            }

            case 5:
            {
                if (pos > d.Length - 4)
                    return d;
                int delta = r.Next(-40, 41);
                uint v = BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(pos));
                BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(pos), unchecked(v + (uint)delta));
                what.Add(F($"u32 at {pos} += {delta}"));
                return d;
            }

            case 6:
            {
                int length = r.Next(2) == 0 ? pos : r.Next(d.Length);
                what.Add(F($"truncate to {length}"));
                return d[..length];
            }

            case 7:
            {
                int len = 1 + r.Next(Math.Min(256, d.Length));
                int a = r.Next(d.Length - len + 1), b = r.Next(d.Length - len + 1);
                var tmp = d.AsSpan(a, len).ToArray();
                d.AsSpan(b, len).CopyTo(d.AsSpan(a));
                tmp.CopyTo(d.AsSpan(b));
                what.Add(F($"swap {len} bytes at {a} and {b}"));
                return d;
            }

            case 8:
            {
                int len = 1 + r.Next(Math.Min(512, d.Length));
                int from = r.Next(d.Length - len + 1), at = Pos();
                what.Add(F($"duplicate {len} bytes from {from} at {at}"));
                return [.. d.AsSpan(0, at), .. d.AsSpan(from, len), .. d.AsSpan(at)];
            }

            default:
            {
                int len = 1 + r.Next(Math.Min(64, d.Length - pos));
                what.Add(F($"delete {len} bytes at {pos}"));
                return [.. d.AsSpan(0, pos), .. d.AsSpan(pos + len)];
            }
        }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
